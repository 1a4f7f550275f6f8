//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the children these tests start: with
// ATTEST_TEST_CHILD set it runs attest's main, or the signal harness,
// instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("ATTEST_TEST_CHILD") {
	case "main":
		main()
	case "signals":
		signalChild()
	}
	os.Exit(m.Run())
}

// signalChild sets up signals as main does, says "ready", and once the
// first signal has ended the context says "cancelled" and goes on with
// work that does not stop: a read of a pipe nothing writes to, as a
// `policy check -` whose producer hangs. Only a second signal ends it.
func signalChild() {
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Println("ready")
	<-ctx.Done()
	fmt.Println("cancelled:", context.Cause(ctx))
	io.ReadAll(os.Stdin)
	os.Exit(0)
}

// child starts the test binary as a child; it is killed if the test's
// deadline passes.
func child(t *testing.T, kind string, args ...string) (*exec.Cmd, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ATTEST_TEST_CHILD="+kind, "NO_COLOR=1")
	cmd.Dir = t.TempDir()
	return cmd, ctx
}

// TestSecondSignalEndsProcess: the first SIGINT or SIGTERM cancels the
// context; if the work does not stop, a second one ends the process at
// once, by the default handler.
func TestSecondSignalEndsProcess(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, ctx := child(t, "signals")
			stdin, err := cmd.StdinPipe() // held open and silent
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(out)
			expect := func(prefix string) {
				t.Helper()
				if !lines.Scan() || !strings.HasPrefix(lines.Text(), prefix) {
					t.Fatalf("child said %q, want %q (%v)", lines.Text(), prefix, lines.Err())
				}
			}
			expect("ready")
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			expect("cancelled: " + strings.ToLower(sig.String())[:3])
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			if ctx.Err() != nil {
				t.Fatal("the second signal did not end the child")
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child ended with %v", err)
			}
			ws, ok := ee.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != sig {
				t.Fatalf("child ended with %v, want killed by %v", err, sig)
			}
		})
	}
}

// TestSpecialInputs runs attest itself: a FIFO that nothing writes to is an
// error naming it, exit 2, at once; stdin as a pipe still works.
func TestSpecialInputs(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "f.yaml")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A project whose files include a FIFO where a regular file belongs
	// (mkfifo names the files under the project folder).
	project := func(fifos ...string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, f := range fifos {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := unix.Mkfifo(p, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	tests := []struct {
		name  string
		args  []string
		setup func(t *testing.T, dir string)
		stdin string
		code  int
		want  string
	}{
		{"fifo", []string{"policy", "check", "--no-builtin", fifo}, nil, "", 2, fifo + "  is a named pipe (FIFO) that nothing writes to"},
		{"device", []string{"policy", "check", "--no-builtin", os.DevNull}, nil, "", 2, os.DevNull + "  is a device, not a file"},
		{"stdin pipe", []string{"policy", "check", "--no-builtin", "-"}, nil, "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n", 0, "1 resource in 1 file"},
		// Files found in the project, not named on the command line: a
		// FIFO there is an error of its own and the run goes on.
		{"fifo in a policy folder", []string{"policy", "check", "--no-builtin", "--policy", "pol", "m.yaml"}, project("pol/p.rego"), "", 2,
			"pol/p.rego  read: is not a regular file (a pipe, socket or device)"},
		{"fifo as the exemptions file", []string{"policy", "check", "m.yaml"}, project(".attest/exemptions.yaml"), "", 2,
			".attest/exemptions.yaml  is not a regular file (a pipe, socket or device), not an exemptions file"},
		{"fifo as the project configuration", []string{"policy", "check", "m.yaml"}, project(".attest/policies.yaml"), "", 2,
			".attest/policies.yaml  is not a regular file (a pipe, socket or device); name a configuration file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, ctx := child(t, "main", tt.args...)
			if tt.setup != nil {
				tt.setup(t, cmd.Dir)
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			// Not an *os.File: exec gives the child a pipe and copies.
			cmd.Stdin = strings.NewReader(tt.stdin)
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("attest %v blocked:\n%s", tt.args, out.String())
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s", code, tt.code, tt.want, out.String())
			}
		})
	}
}
