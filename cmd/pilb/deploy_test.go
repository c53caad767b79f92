package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestDeployUserDataFetchesShippedFiles: every file the EC2 user data
// fetches from deploy/ is in deploy/. The script runs under set -e, so one
// missing file (a 404 for curl -f) stops it before pilb is enabled.
func TestDeployUserDataFetchesShippedFiles(t *testing.T) {
	script, err := os.ReadFile("../../deploy/ec2/proxy-user-data.sh")
	if err != nil {
		t.Fatal(err)
	}
	// The loop's entries: repo-path:host-path.
	entries := regexp.MustCompile(`(?m)([\w./-]+):/etc/[\w./-]+`).FindAllSubmatch(script, -1)
	if len(entries) == 0 {
		t.Fatal("no deploy/ file fetched by the script: its loop changed shape; update this test")
	}
	for _, e := range entries {
		p := filepath.Join("../../deploy", string(e[1]))
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the user data fetches deploy/%s, which is not shipped: %v", e[1], err)
		}
	}
}
