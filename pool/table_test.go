package pool

import (
	"errors"
	"testing"
)

func TestParseRoute(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Route
	}{
		{"api.example.com=api", Route{Host: "api.example.com", Pool: "api"}},
		{"API.Example.COM.=api", Route{Host: "api.example.com", Pool: "api"}},
		{"/static/=static", Route{Prefix: "/static/", Pool: "static"}},
		{"api.example.com/v2/=v2", Route{Host: "api.example.com", Prefix: "/v2/", Pool: "v2"}},
		{"*.example.com=tenants", Route{Host: "*.example.com", Pool: "tenants"}},
		{"[2001:db8::1]=v6", Route{Host: "[2001:db8::1]", Pool: "v6"}},
		{"/a=b/=odd", Route{Prefix: "/a=b/", Pool: "odd"}},
		{"static/=s", Route{Host: "static", Pool: "s"}},
	} {
		got, err := ParseRoute(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRoute(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"api.example.com", "=api", "api.example.com=", "example.com:8080=x", "/=x",
		"/static/?q=x", "ex ample.com=x", "a.*.com=x", "example.com=bad pool", "[::1=x",
		"/x=" + string(make([]byte, 65)),
	} {
		if _, err := ParseRoute(bad); !errors.Is(err, ErrBadRoute) {
			t.Errorf("ParseRoute(%q): %v, want ErrBadRoute", bad, err)
		}
	}
}

func mustRoutes(t *testing.T, specs ...string) []Route {
	t.Helper()
	var rs []Route
	for _, s := range specs {
		r, err := ParseRoute(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestTableRoute(t *testing.T) {
	tbl, err := NewTable(nil, mustRoutes(t,
		"api.example.com=api",
		"api.example.com/v2/=apiv2",
		"*.example.com=wild",
		"*.eu.example.com=eu",
		"/static/=static",
		"/static/img/=img",
		"/health=health",
		"only.example.com/x/=onlyx",
		"[2001:db8::1]=v6",
	))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host, target, want string
	}{
		{"api.example.com", "/", "api"},
		{"API.Example.Com:8080", "/users", "api"},
		{"api.example.com.", "/", "api"},
		{"api.example.com", "/v2/users", "apiv2"},
		{"api.example.com", "/v2", "api"}, // "/v2/" needs the slash
		{"api.example.com", "/static/x", "api"},
		{"a.example.com", "/", "wild"},
		{"a.b.example.com", "/", "wild"},
		{"x.eu.example.com", "/", "eu"},
		{"example.com", "/", "default"},
		{"other.org", "/static/x.css", "static"},
		{"other.org", "/static/img/a.png", "img"},
		{"other.org", "/static", "default"},
		{"other.org", "/health", "health"},
		{"other.org", "/health?full=1", "health"},
		{"other.org", "/health/deep", "health"},
		{"other.org", "/healthz", "default"},
		{"only.example.com", "/x/1", "onlyx"},
		{"only.example.com", "/static/1", "wild"}, // exact host without a match falls to the wildcard
		{"", "/static/1", "static"},
		{"[2001:db8::1]:8080", "/", "v6"},
		{"other.org", "http://api.example.com/v2/x", "apiv2"}, // absolute-form wins over Host
		{"other.org", "http://user@API.example.com:81?q", "api"},
		{"other.org", "*", "default"},
		{string(make([]byte, 300)), "/static/a", "static"},
	} {
		if got := tbl.Route([]byte(tt.host), []byte(tt.target)).Name(); got != tt.want {
			t.Errorf("Route(%q, %q) = %s, want %s", tt.host, tt.target, got, tt.want)
		}
	}
}

func TestTablePoolsAndMembers(t *testing.T) {
	bs := newBackends(3)
	api := NewPool("api", bs[:2], nil)
	tbl, err := NewTable([]*Pool{api, NewPool("", bs[2:], nil)}, mustRoutes(t, "/s/=static"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range tbl.Pools() {
		names = append(names, p.Name())
	}
	if len(names) != 3 || names[0] != "api" || names[1] != "default" || names[2] != "static" {
		t.Fatalf("pools %v, want api default static (static created empty for its route)", names)
	}
	if len(tbl.Backends()) != 3 || !tbl.Contains(bs[0]) || tbl.Contains(&Backend{}) {
		t.Fatalf("backends %d", len(tbl.Backends()))
	}
	if tbl.Route(nil, []byte("/")) != tbl.Default() || tbl.Default().Pick(0) != bs[2] {
		t.Fatal("no route: want the default pool")
	}
	if p := tbl.Route(nil, []byte("/s/1")); p.Name() != "static" || p.Pick(0) != nil {
		t.Fatal("empty routed pool: want it, with nothing to pick")
	}
	if tbl.Pool("api") != api || tbl.Pool("") != tbl.Default() || tbl.Pool("nope") != nil {
		t.Fatal("Pool by name")
	}

	if _, err := NewTable([]*Pool{api, NewPool("api", nil, nil)}, nil); !errors.Is(err, ErrDuplicateRoute) {
		t.Fatalf("two pools named api: %v", err)
	}
	if _, err := NewTable(nil, mustRoutes(t, "a.com/x/=p", "A.com/x/=q")); !errors.Is(err, ErrDuplicateRoute) {
		t.Fatalf("a route twice: %v", err)
	}
	if _, err := NewTable(nil, []Route{{Host: "a.com:80", Pool: "p"}}); !errors.Is(err, ErrBadRoute) {
		t.Fatalf("bad route: %v", err)
	}
}

// TestFollowSet: Routes built from a Set follow its changes, and the pool
// keeps the balancer it was given.
func TestFollowSet(t *testing.T) {
	var s Set
	bs := newBackends(3)
	bal := new(RoundRobin)
	r := FollowSet(&s, bal)
	if p := r.Load().Default(); len(p.Backends()) != 0 || p.Pick(0) != nil {
		t.Fatal("empty set: want an empty default pool")
	}
	for _, b := range bs {
		if err := s.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Load().Default().Backends(); len(got) != 3 || r.Load().Default().Balancer() != bal {
		t.Fatalf("after adds: %d backends", len(got))
	}
	s.Remove(bs[1].ID)
	tbl := r.Load()
	if tbl.Contains(bs[1]) || !tbl.Contains(bs[0]) || len(r.Snapshot()) != 2 {
		t.Fatal("after remove: table did not follow")
	}
	r.Store(nil)
	if r.Load() != tbl {
		t.Fatal("Store(nil) replaced the table")
	}
}

// TestCheckPoolNameReserved: "none" names no pool (metrics and the access
// log give it to requests that had none); names around it still pass.
func TestCheckPoolNameReserved(t *testing.T) {
	if err := CheckPoolName(NoName); err == nil {
		t.Errorf("pool name %q accepted", NoName)
	}
	for _, ok := range []string{"default", "none-api", "nonE", "api"} {
		if err := CheckPoolName(ok); err != nil {
			t.Errorf("pool name %q: %v", ok, err)
		}
	}
}
