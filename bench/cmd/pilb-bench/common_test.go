package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestLadderFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"-conns", "1,4", "-sizes", "0"}, true},
		{[]string{"-conns", "0"}, false},
		{[]string{"-conns", "4,0,16"}, false},
		{[]string{"-tool", "ab"}, false},
		{[]string{"-duration", "500ms"}, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var lf ladderFlags
		lf.register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		_, err := lf.ladder(time.Now().Add(time.Minute), "")
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want ok=%v", tc.args, err, tc.ok)
		}
	}
}

// Bad model parameters are usage errors, found before any results are
// read.
func TestSizeRejectsBadParams(t *testing.T) {
	for _, args := range [][]string{
		{"-headroom", "1"}, {"-headroom", "-0.1"}, {"-target-util", "0"}, {"-target-util", "1.5"},
		{"-front", "alb"}, {"-min-count", "0"}, {"-spare", "-1"}, {"-cpu-factor", "2"}, {"-rps", "0"}, {"-mss", "10"},
	} {
		if err := cmdSize(append(args, "-results", t.TempDir())); !errors.Is(err, errUsage) {
			t.Errorf("size %v: err = %v, want a usage error", args, err)
		}
	}
}

func TestCPUPlan(t *testing.T) {
	for _, tc := range []struct {
		n, loops            int
		proxyFlag, loadFlag string
		proxy, rest, note   string // note: a substring, "" for none
	}{
		{2, 1, "auto", "auto", "0", "1", "indicative only"},
		{2, 2, "auto", "auto", "", "", "shares its CPUs with wrk and the backends"},
		{8, 1, "auto", "auto", "0", "1-7", ""},
		{8, 4, "auto", "auto", "0-3", "4-7", ""},
		{8, 8, "auto", "auto", "", "", "shares"},
		{8, 4, "2", "3", "2", "3", ""},
	} {
		p, r, note := cpuPlan(tc.n, tc.loops, tc.proxyFlag, tc.loadFlag)
		if p != tc.proxy || r != tc.rest || (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("cpuPlan(%d, %d, %q, %q) = %q, %q, %q; want %q, %q, a note with %q",
				tc.n, tc.loops, tc.proxyFlag, tc.loadFlag, p, r, note, tc.proxy, tc.rest, tc.note)
		}
	}
}
