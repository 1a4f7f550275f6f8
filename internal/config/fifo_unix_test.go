//go:build unix

package config

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A --config that is a FIFO nothing writes to is refused at once: opening
// it would block forever.
func TestConfigFileIsFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "attest.yaml")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, ferr := readFile(p, true) // a hang here is the bug: go test's timeout reports it
	if ferr == nil || !strings.Contains(ferr.Message, "not a regular file") {
		t.Fatalf("error %v", ferr)
	}
}
