package main

import (
	"errors"
	"slices"
	"testing"
)

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "64MiB": 64 << 20, "512KiB": 512 << 10, "1048576": 1 << 20, "100B": 100} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, bad := range []string{"", "1GB", "-1MiB", "1.5GiB", "x", "99999999999GiB"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, b)
		}
	}
	for n, want := range map[byteSize]string{1 << 30: "1GiB", 3 << 20: "3MiB", 1536: "1536", 2 << 10: "2KiB", 0: "0"} {
		if got := n.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", n, got, want)
		}
	}
}

func TestHostileFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		ok        bool
		scenarios []string
	}{
		{nil, true, []string{"conns8000", "slowloris", "idle8000", "slowtransfer", "downloads1024", "cpu64"}},
		{[]string{"-scenarios", "slowloris,idle8000,slowloris", "-transfer-size", "64MiB"}, true, []string{"slowloris", "idle8000"}},
		{[]string{"-scenarios", "conns9000"}, false, nil},
		{[]string{"-proxies", "envoy"}, false, nil},
		{[]string{"-rounds", "0"}, false, nil},
		{[]string{"-duration", "500ms"}, false, nil},
		{[]string{"-clients", "1", "-threads", "2"}, false, nil},
		{[]string{"-transfer-rate", "0"}, false, nil},
		{[]string{"-header-timeout", "0s"}, false, nil},
		{[]string{"-baseline-bin", "/tmp/old-pilb", "-proxies", "nginx"}, false, nil},
	} {
		fs := newFlagSet("hostile")
		var hf hostileFlags
		hf.register(fs)
		if err := parse(fs, tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		scenarios, _, err := hf.check()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want ok %v", tc.args, err, tc.ok)
		}
		if tc.ok && !slices.Equal(scenarios, tc.scenarios) {
			t.Errorf("%v: scenarios %v, want %v", tc.args, scenarios, tc.scenarios)
		}
	}
}
