package proxies

import (
	"bytes"
	"strings"
	"testing"
)

func TestConfigs(t *testing.T) {
	cfg := Config{Listen: "127.0.0.1:8080", Backends: []string{"127.0.0.1:5001", "127.0.0.1:5002"},
		Loops: 1, ConnsPerBackend: 32, Dir: "/tmp/x"}
	var b bytes.Buffer
	if err := nginxConf.Execute(&b, cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"worker_processes 1;", "server 127.0.0.1:5002 max_fails=0;", "keepalive 32;",
		"listen 127.0.0.1:8080", `proxy_set_header Connection "";`, "proxy_http_version 1.1;"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("nginx.conf lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := haproxyConf.Execute(&b, cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nbthread 1", "http-reuse always", "server s1 127.0.0.1:5002", "bind 127.0.0.1:8080"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("haproxy.cfg lacks %q:\n%s", want, b.String())
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:1": true, "[::1]:80": true, "127.9.9.9": true,
		"10.0.0.1:8080": false, "example.com:80": false, ":8080": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}
