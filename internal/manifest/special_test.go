//go:build unix

package manifest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// loadWithin runs LoadFile and fails the test, instead of hanging it, when
// LoadFile has not returned by the deadline.
func loadWithin(t *testing.T, ctx context.Context, l *Loader, path string) *File {
	t.Helper()
	done := make(chan *File, 1)
	go func() { done <- l.LoadFile(ctx, path) }()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case f := <-done:
		return f
	case <-deadline.C:
		// Let a reader stuck in open(2) go, so the test binary can end.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatalf("LoadFile(%s) blocked", path)
		return nil
	}
}

// fdPath names an open descriptor the way a shell's process substitution
// <(helm template .) does.
func fdPath(t *testing.T, f *os.File) string {
	t.Helper()
	p := fmt.Sprintf("/dev/fd/%d", f.Fd())
	if runtime.GOOS != "linux" {
		t.Skip("/dev/fd reopens the pipe on Linux only")
	}
	return p
}

// TestNonRegularFiles: a path that is not a regular file never blocks.
// A FIFO nothing writes to, a socket and a device are errors at the file;
// a pipe with a writer (process substitution, /dev/stdin) is read.
func TestNonRegularFiles(t *testing.T) {
	dir, err := os.MkdirTemp("", "attest") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	fifo := filepath.Join(dir, "f.yaml")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.yaml")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })

	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
	written, w := pipe(t)
	if _, err := w.WriteString(pod); err != nil {
		t.Fatal(err)
	}
	w.Close() // the data stays in the pipe, which the read end keeps
	empty, w2 := pipe(t)
	w2.Close()
	open, _ := pipe(t) // its writer stays open and silent

	tests := []struct {
		name, path string
		timeout    time.Duration
		want       []string
	}{
		{"fifo without writer", fifo, 0, []string{"error 0@0:0: " + msgFIFONoWriter}},
		{"socket", sock, 0, []string{"error 0@0:0: is a socket, not a file"}},
		{"device", os.DevNull, 0, []string{"error 0@0:0: is a device, not a file"}},
		{"pipe with data", fdPath(t, written), 0, []string{"Pod/p 0:-1@1:1"}},
		{"pipe whose writer wrote nothing", fdPath(t, empty), 0, []string{"error 0@0:0: " + msgFIFONoWriter}},
		{"silent writer, cancelled", fdPath(t, open), 200 * time.Millisecond, []string{"error 0@0:0: not read: context deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			f := loadWithin(t, ctx, NewLoader(), tt.path)
			if got := summary(f); !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for _, e := range f.Errors {
				if e.Location.File != tt.path {
					t.Errorf("error does not name the file: %+v", e)
				}
			}
		})
	}
}

// TestStdinPipe: "-" reads a pipe, as `helm template . | attest policy
// check -` gives it.
func TestStdinPipe(t *testing.T) {
	r, w := pipe(t)
	go func() {
		w.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
		w.Close()
	}()
	f := loadWithin(t, context.Background(), NewLoader(WithStdin(r)), "-")
	if got := summary(f); !slices.Equal(got, []string{"Namespace/x 0:-1@1:1"}) {
		t.Errorf("got %v", got)
	}
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}
