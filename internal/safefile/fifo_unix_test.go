//go:build unix

package safefile

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Without a writer, open(2) of a FIFO blocks forever: the test hangs (and
// go test's timeout reports it) if Open waits.
func TestFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "exemptions.yaml")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(fifo, 1<<20); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("ReadFile: %v, want ErrNotRegular", err)
	}
	f, err := OpenNonBlocking(fifo)
	if err != nil {
		t.Fatalf("OpenNonBlocking: %v", err)
	}
	f.Close()
}
