package proxies

import (
	"bytes"
	"strings"
	"testing"
	"time"
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
	for _, want := range []string{"nbthread 1", "http-reuse always", "server s1 127.0.0.1:5002", "bind 127.0.0.1:8080", "maxconn 8000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("haproxy.cfg lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "http-request") {
		t.Errorf("haproxy.cfg sets a header timeout nobody asked for:\n%s", b.String())
	}
}

// The hostile configuration: room for 9000 clients (and their upstream
// connections in nginx) and a 5 s header timeout in each proxy's words.
func TestHostileConfigs(t *testing.T) {
	cfg := Config{Listen: "127.0.0.1:8080", Backends: []string{"127.0.0.1:5001"}, Loops: 1, ConnsPerBackend: 64,
		Dir: "/tmp/x", MaxClients: 9000, HeaderTimeout: 5 * time.Second}
	for proxy, wants := range map[string][]string{
		"nginx": {"worker_connections 18512;", "worker_rlimit_nofile 19024;", "client_header_timeout 5000ms;",
			"client_max_body_size 0;", "proxy_request_buffering off;"},
		"haproxy": {"maxconn 9000", "timeout http-request 5000ms"},
	} {
		conf, err := Render(proxy, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range wants {
			if !strings.Contains(conf, want) {
				t.Errorf("%s lacks %q:\n%s", proxy, want, conf)
			}
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
