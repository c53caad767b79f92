package hostile

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Connections that got a 200 are kept and seen open; once the server
// drops them, the peek sees them closed.
func TestOpenIdle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bytes/12" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("hello world\n"))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	set := OpenIdle(context.Background(), addr, "/bytes/12", 20, 4)
	defer set.Close()
	if set.Len() != 20 || set.Failed != 0 || set.Err != nil {
		t.Fatalf("Len %d, Failed %d, Err %v", set.Len(), set.Failed, set.Err)
	}
	if n := set.StillOpen(); n != 20 {
		t.Errorf("StillOpen = %d, want 20", n)
	}
	srv.CloseClientConnections()
	eventually(t, "the closed connections seen closed", func() bool { return set.StillOpen() == 0 })

	bad := OpenIdle(context.Background(), addr, "/nope", 3, 2)
	if bad.Len() != 0 || bad.Failed != 3 || !errors.Is(bad.Err, ErrStatus) {
		t.Errorf("404s: Len %d, Failed %d, Err %v", bad.Len(), bad.Failed, bad.Err)
	}
}

// A response that closes the connection leaves nothing idle to measure.
func TestOpenIdleRefusesClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	}))
	defer srv.Close()
	set := OpenIdle(context.Background(), srv.Listener.Addr().String(), "/", 2, 2)
	if set.Len() != 0 || set.Failed != 2 || set.Err == nil {
		t.Errorf("Len %d, Failed %d, Err %v", set.Len(), set.Failed, set.Err)
	}
}
