package main

import (
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-port", "5001", "-id", "s2", "-body-size", "12"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != ":5001" || o.id != "s2" || o.bodySize != 12 || o.register != "" {
		t.Fatalf("options %+v", o)
	}
	env := func(k string) string {
		if k == "PILB_ADMIN_TOKEN" {
			return "tok"
		}
		return ""
	}
	o, err = parseFlags([]string{"-id", "s1", "-pool", "api", "-listen", ":5000", "-register", "http://proxy:9090",
		"-ttl", "30s", "-weight", "3"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if o.register != "http://proxy:9090" || o.pool != "api" || o.ttl != 30*time.Second || o.weight != 3 || o.token != "tok" {
		t.Fatalf("options %+v", o)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-port", "5001", "-listen", ":5002"}, "-port and -listen"},
		{[]string{"-port", "70000"}, "-port 70000"},
		{[]string{"-id", ""}, "-id"},
		{[]string{"-loops", "0"}, "-loops 0"},
		{[]string{"-body-size", "-2"}, "-body-size -2"},
		{[]string{"stray"}, "stray"},
		{[]string{"-pool", "api"}, "-pool: only with -register"},
		{[]string{"-ttl", "5s"}, "-ttl: only with -register"},
		{[]string{"-register", "proxy:9090"}, "-register"},
		{[]string{"-register", "http://p:9090", "-id", "a/b"}, "-id"},
		{[]string{"-register", "http://p:9090", "-pool", "a b"}, "-pool"},
		{[]string{"-register", "http://p:9090", "-weight", "0"}, "-weight 0"},
		{[]string{"-register", "http://p:9090", "-ttl", "10ms"}, "-ttl 10ms"},
		{[]string{"-register", "http://p:9090", "-drain-timeout", "-1s"}, "-drain-timeout"},
	} {
		_, err := parseFlags(tt.args, noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %q", tt.args, err, tt.want)
		}
	}
}
