package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // substring of the error, which names the flag
	}{
		{[]string{"-admin", ""}, "-backends: no backend given"},
		{[]string{"-backends", "10.0.0.1"}, `-backends: "10.0.0.1": want host:port`},
		{[]string{"-backends", "10.0.0.1:x"}, `-backends: "10.0.0.1:x": bad port`},
		{[]string{"-backends", ":5000"}, "missing host"},
		{[]string{"-backends", "a:1,,b:2"}, `-backends: "": want host:port`},
		{[]string{"-backends", "a:70000"}, "bad port"},
		{[]string{"-demo", "3", "-backends", "a:1"}, "-demo and -backends both given"},
		{[]string{"-demo", "-1"}, "-demo -1"},
		{[]string{"-demo", "1000"}, "-demo 1000"},
		{[]string{"-demo", "2", "-listen", "nonsense"}, `-listen "nonsense": want host:port`},
		{[]string{"-demo", "2", "-listen", ":99999"}, "bad port"},
		{[]string{"-demo", "2", "-port", "0"}, "-port 0"},
		{[]string{"-demo", "2", "-port", "80", "-listen", ":81"}, "-port and -listen both given"},
		{[]string{"-demo", "2", "-connect-timeout", "-1s"}, "-connect-timeout -1s: must be positive"},
		{[]string{"-demo", "2", "-header-timeout", "0s"}, "-header-timeout 0s: must be positive"},
		{[]string{"-demo", "2", "-idle-timeout", "abc"}, "idle-timeout"},
		{[]string{"-demo", "2", "-health-interval", "-2s"}, "-health-interval -2s"},
		{[]string{"-demo", "2", "-health-path", "health"}, "-health-path"},
		{[]string{"-demo", "2", "-loops", "0"}, "-loops 0: must be positive"},
		{[]string{"-demo", "2", "-conns-per-backend", "-1"}, "-conns-per-backend -1"},
		{[]string{"-demo", "2", "-max-conns", "-5"}, "-max-conns -5"},
		{[]string{"-demo", "2", "-max-header-bytes", "100"}, "-max-header-bytes 100"},
		{[]string{"-demo", "2", "-balance", "random"}, `-balance "random"`},
		{[]string{"-demo", "2", "-log-level", "loud"}, "log-level"},
		{[]string{"-demo", "2", "extra"}, `unexpected argument "extra"`},
		{[]string{"-nosuchflag"}, "nosuchflag"},
		{[]string{"-backends", "bad pool=10.0.0.1:80"}, "-backends: pool name"},
		{[]string{"-backends", "api=10.0.0.1:80", "-backends", "x=256.1.1.1:80"}, `-backends`},
		{[]string{"-backends-dns", "10.0.0.1:80"}, "-backends-dns: "},
		{[]string{"-backends-dns", "app.internal"}, "-backends-dns: "},
		{[]string{"-demo", "2", "-backends-dns", "app.internal:80"}, "-demo and -backends both given"},
		{[]string{"-demo", "2", "-route", "api.example.com"}, "-route: "},
		{[]string{"-demo", "2", "-route", "example.com:80=api"}, "has a port"},
		{[]string{"-demo", "2", "-route", "/a/=x", "-route", "/a/=y"}, "-route: "},
		{[]string{"-demo", "2", "-admin", "0.0.0.0:9090"}, "-admin \"0.0.0.0:9090\": refused"},
		{[]string{"-demo", "2", "-admin", ":9090"}, "refused"},
		{[]string{"-demo", "2", "-admin", "nonsense"}, "-admin"},
		{[]string{"-demo", "2", "-health-rise", "0"}, "-health-rise 0"},
		{[]string{"-demo", "2", "-health-fall", "-1"}, "-health-fall -1"},
		{[]string{"-demo", "2", "-health-timeout", "0s"}, "-health-timeout 0s"},
		{[]string{"-demo", "2", "-dns-interval", "1ms"}, "-dns-interval 1ms"},
		{[]string{"-demo", "2", "-dns-server", "nowhere"}, "-dns-server"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseFlags(tt.args, noEnv, io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line", err)
			}
		})
	}
}

func noEnv(string) string { return "" }

func TestParseFlagsValid(t *testing.T) {
	o, err := parseFlags([]string{"-port", "9090", "-backends", "10.0.1.5:5000, 10.0.1.6:5000",
		"-loops", "1", "-backend-timeout", "5s", "-balance", "leastconn"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != ":9090" {
		t.Errorf("listen %q, want :9090", o.listen)
	}
	if len(o.backends) != 2 || o.backends[1].Addr != "10.0.1.6:5000" || o.backends[1].ID != "b2" {
		t.Errorf("backends %+v", o.backends)
	}
	if o.backendTimeout != 5*time.Second || o.loops != 1 || o.balance != "leastconn" {
		t.Errorf("options %+v", o)
	}
	cfg := o.engineConfig(nil, nil)
	if cfg.Addr != ":9090" || cfg.BackendTimeout != 5*time.Second || cfg.Loops != 1 {
		t.Errorf("engine config %+v", cfg)
	}

	o, err = parseFlags([]string{"-demo", "3"}, noEnv, io.Discard)
	if err != nil || o.demo != 3 || o.listen != ":8080" || o.admin != "127.0.0.1:9090" {
		t.Fatalf("-demo 3: %+v, %v", o, err)
	}

	// Nothing but the admin API: backends register themselves.
	if o, err = parseFlags(nil, noEnv, io.Discard); err != nil || len(o.backends) != 0 {
		t.Fatalf("no flag: %+v, %v", o, err)
	}
}

func TestParseFlagsPoolsRoutesDNS(t *testing.T) {
	env := func(k string) string {
		if k == "PILB_ADMIN_TOKEN" {
			return "from-env"
		}
		return ""
	}
	o, err := parseFlags([]string{
		"-backends", "api=10.0.1.5:5000,10.0.1.6:5000", "-backends", "10.0.2.1:80,web.internal:8080",
		"-backends-dns", "static=static.internal:80", "-backends-dns", "_http._tcp.svc.consul",
		"-route", "api.example.com=api", "-route", "/static/=static",
		"-balance", "p2c", "-admin", "0.0.0.0:9090", "-dns-server", "127.0.0.1:8600",
		"-health-timeout", "500ms", "-health-rise", "1", "-health-fall", "5",
	}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range o.backends {
		got = append(got, b.ID+"="+b.Pool+"/"+b.Addr)
	}
	if strings.Join(got, " ") != "b1=api/10.0.1.5:5000 b2=api/10.0.1.6:5000 b3=/10.0.2.1:80" {
		t.Errorf("backends %v", got)
	}
	if len(o.backendNames) != 1 || o.backendNames[0].String() != "web.internal:8080" || !o.backendNames[0].Required {
		t.Errorf("backend names %+v", o.backendNames)
	}
	if len(o.backendsDNS) != 2 || o.backendsDNS[0].String() != "static=static.internal:80" || !o.backendsDNS[1].SRV() {
		t.Errorf("-backends-dns %+v", o.backendsDNS)
	}
	if len(o.routes) != 2 || o.routes[1].Prefix != "/static/" {
		t.Errorf("routes %+v", o.routes)
	}
	if o.adminToken != "from-env" || o.balance != "p2c" || o.healthTimeout != 500*time.Millisecond || o.healthFall != 5 {
		t.Errorf("options %+v", o)
	}
	// The flag wins over the environment.
	o, err = parseFlags([]string{"-demo", "1", "-admin-token", "flag"}, env, io.Discard)
	if err != nil || o.adminToken != "flag" {
		t.Fatalf("-admin-token: %q, %v", o.adminToken, err)
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out strings.Builder
	_, err := parseFlags([]string{"-h"}, noEnv, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v, want flag.ErrHelp", err)
	}
	for _, name := range []string{"listen", "port", "backends", "demo", "loops", "conns-per-backend",
		"max-conns-per-backend", "connect-timeout", "header-timeout", "backend-timeout",
		"idle-timeout", "max-header-bytes", "log-level", "high-water", "drain-timeout",
		"route", "backends-dns", "dns-interval", "dns-server", "admin", "admin-token", "balance",
		"health-timeout", "health-rise", "health-fall", "park-after"} {
		if !strings.Contains(out.String(), "-"+name+" ") {
			t.Errorf("-h does not list -%s", name)
		}
	}
	if !strings.Contains(out.String(), "(default 2s)") {
		t.Error("-h does not show duration defaults")
	}
}
