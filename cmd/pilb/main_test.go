package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary returns cmd/pilb, built once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin, _ := binaries(t)
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// TestBinaryDemoRotationAndDrain runs the real binary as the README does
// (-demo 3), checks the rotation with net/http and curl, and stops it with
// SIGTERM: exit status 0.
func TestBinaryDemoRotationAndDrain(t *testing.T) {
	bin := buildBinary(t)
	addr, adminAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "-demo", "3", "-listen", addr, "-admin", adminAddr, "-loops", "2", "-log-level", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitListening(t, addr)

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var got []string
	for range 6 {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Server")
		if string(b) != "hello from "+id+"\n" {
			t.Fatalf("body %q from %s", b, id)
		}
		got = append(got, id)
	}
	// Round robin per request: any three consecutive answers are s1,s2,s3
	// in some rotation, and the sequence repeats.
	seen := map[string]bool{got[0]: true, got[1]: true, got[2]: true}
	if len(seen) != 3 || got[3] != got[0] || got[4] != got[1] || got[5] != got[2] {
		t.Fatalf("rotation %v", got)
	}

	// The admin API shows the demo backends (what the README's curl does).
	waitListening(t, adminAddr)
	m := admin{url: "http://" + adminAddr}.backends(t)
	for _, id := range []string{"s1", "s2", "s3"} {
		if st := m[id]; st.Source != "demo" || st.State != "up" || st.Requests == 0 {
			t.Fatalf("GET /backends: %s is %+v", id, st)
		}
	}

	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "-i", "http://"+addr+"/bytes/5").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		if !strings.HasPrefix(string(out), "HTTP/1.1 200") || !strings.Contains(string(out), "Via: 1.1 pilb") {
			t.Fatalf("curl got %q", out)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
}

// TestBinaryBadFlagExits2: a bad flag is one line on stderr and status 2.
func TestBinaryBadFlagExits2(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-backends", "10.0.0.1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2", err)
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "pilb: -backends") {
		t.Fatalf("stderr %q, want one line naming -backends", msg)
	}
}
