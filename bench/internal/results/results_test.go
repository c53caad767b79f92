package results

import (
	"slices"
	"testing"
)

func TestDistinct(t *testing.T) {
	run := &Run{Steps: []Step{
		{Proxy: "pilb", Loops: 2, RespBytes: 1024},
		{Proxy: "nginx", Loops: 1, RespBytes: 0},
		{Proxy: "pilb", Loops: 1, RespBytes: 1024},
		{Proxy: "pilb", Loops: 2, RespBytes: 0},
	}}
	if got := run.Proxies(); !slices.Equal(got, []string{"pilb", "nginx"}) {
		t.Errorf("Proxies() = %v", got)
	}
	if got := run.Sizes(); !slices.Equal(got, []int{1024, 0}) {
		t.Errorf("Sizes() = %v", got)
	}
	loops := Distinct(run.Steps, func(s Step) (int, bool) { return s.Loops, s.Proxy == "pilb" })
	if !slices.Equal(loops, []int{2, 1}) {
		t.Errorf("pilb loops = %v, want [2 1]", loops)
	}
}

func TestLabel(t *testing.T) {
	for _, tc := range []struct{ proxy, tool, label string }{{"pilb", "wrk", "pilb"}, {"nginx", "hey", "nginx/hey"}} {
		if got := Label(tc.proxy, tc.tool); got != tc.label {
			t.Errorf("Label(%q, %q) = %q", tc.proxy, tc.tool, got)
		}
		if p, tool := SplitLabel(tc.label); p != tc.proxy || tool != tc.tool {
			t.Errorf("SplitLabel(%q) = %q, %q", tc.label, p, tool)
		}
	}
}
