package hostile

import (
	"errors"
	"slices"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"1": {1}, "0-3": {0, 1, 2, 3}, "0,2-3": {0, 2, 3}, " 4 ": {4}} {
		got, err := ParseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1-", "0,,1", "5000"} {
		if _, err := ParseCPUList(bad); !errors.Is(err, ErrCPUList) {
			t.Errorf("ParseCPUList(%q): err = %v", bad, err)
		}
	}
}
