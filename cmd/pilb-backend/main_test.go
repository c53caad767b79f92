package main

import (
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-port", "5001", "-id", "s2", "-body-size", "12"})
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != ":5001" || o.id != "s2" || o.bodySize != 12 {
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
	} {
		_, err := parseFlags(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %q", tt.args, err, tt.want)
		}
	}
}
