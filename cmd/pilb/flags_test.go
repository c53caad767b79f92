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
		{[]string{}, "-backends: no backend given"},
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
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
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

func TestParseFlagsValid(t *testing.T) {
	o, err := parseFlags([]string{"-port", "9090", "-backends", "10.0.1.5:5000, 10.0.1.6:5000",
		"-loops", "1", "-backend-timeout", "5s", "-balance", "leastconn"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != ":9090" {
		t.Errorf("listen %q, want :9090", o.listen)
	}
	if len(o.backends) != 2 || o.backends[1] != "10.0.1.6:5000" {
		t.Errorf("backends %q", o.backends)
	}
	if o.backendTimeout != 5*time.Second || o.loops != 1 || o.balance != "leastconn" {
		t.Errorf("options %+v", o)
	}
	cfg := o.engineConfig(nil, nil)
	if cfg.Addr != ":9090" || cfg.BackendTimeout != 5*time.Second || cfg.Loops != 1 {
		t.Errorf("engine config %+v", cfg)
	}

	o, err = parseFlags([]string{"-demo", "3"}, io.Discard)
	if err != nil || o.demo != 3 || o.listen != ":8080" {
		t.Fatalf("-demo 3: %+v, %v", o, err)
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out strings.Builder
	_, err := parseFlags([]string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v, want flag.ErrHelp", err)
	}
	for _, name := range []string{"listen", "port", "backends", "demo", "loops", "conns-per-backend",
		"max-conns-per-backend", "connect-timeout", "header-timeout", "backend-timeout",
		"idle-timeout", "max-header-bytes", "log-level", "high-water", "drain-timeout"} {
		if !strings.Contains(out.String(), "-"+name+" ") {
			t.Errorf("-h does not list -%s", name)
		}
	}
	if !strings.Contains(out.String(), "(default 2s)") {
		t.Error("-h does not show duration defaults")
	}
}
