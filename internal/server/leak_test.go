package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"
)

// After a battery of bad input, aborted and stalled clients and
// evaluations that time out, once every client connection is closed the
// process is back to the goroutines and open files it had before: nothing
// the server started for a request outlives it.
func TestNothingLeaks(t *testing.T) {
	normal := start(t, newProject(t, nil), WithBodyLimit(64<<10), WithTimeouts(300*time.Millisecond, 5*time.Second))
	timesOut := start(t, newProject(t, map[string]string{
		"policies/slow.rego":    slowPolicy,
		".attest/policies.yaml": projectConfig + "policy:\n  timeout: 50ms\n",
	}))
	normal.waitReady(t)
	timesOut.waitReady(t)
	good := review("u1", "CREATE", compliantDeployment, "")
	// Warm up: the first requests start what lives as long as the server
	// (pools, the runtime's own goroutines).
	for range 3 {
		normal.post(t, "/v1/admission", "application/json", good)
		timesOut.post(t, "/v1/admission", "application/json", good)
	}
	normal.client.CloseIdleConnections()
	timesOut.client.CloseIdleConnections()
	baseG, baseFD := settle(t, 0, 0, false)

	addr := strings.TrimPrefix(normal.url, "http://")
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	keep := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	raw := func(payload string, read bool) {
		defer wg.Done()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		keep(c)
		if _, err := io.WriteString(c, payload); err != nil {
			return
		}
		if read {
			_, _ = io.Copy(io.Discard, c) // until the server closes it
		}
	}
	head := "POST /v1/admission HTTP/1.1\r\nHost: attest\r\nContent-Type: application/json\r\n"
	for i := range 20 {
		wg.Add(4)
		go raw(head, true)                                                                  // half the headers, then nothing: the read timeout cuts it
		go raw(head+"Content-Length: 5000\r\n\r\n{\"kind\":", false)                        // a body cut short
		go raw(fmt.Sprintf("%sContent-Length: %d\r\n\r\n%s", head, len(good), good), false) // answer never read
		go func() {
			defer wg.Done()
			body := []byte(`{"kind":"AdmissionReview","x":"` + strings.Repeat("a", 100<<10) + `"}`)
			if i%2 == 0 {
				body = []byte(`{"kind":"AdmissionReview",`)
			}
			resp, err := normal.client.Post(normal.url+"/v1/admission", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("bad input: HTTP %d", resp.StatusCode)
			}
		}()
	}
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 10 {
				if code, body := normal.post(t, "/v1/admission", "application/json", good); code != 200 {
					t.Errorf("good review: HTTP %d %s", code, body)
				}
			}
		}()
		go func() {
			defer wg.Done()
			code, body := timesOut.post(t, "/v1/admission", "application/json", good)
			if r := decode(t, body); code != 200 || r.Allowed {
				t.Errorf("timed-out evaluation: HTTP %d %s, want a denial", code, body)
			}
		}()
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	normal.client.CloseIdleConnections()
	timesOut.client.CloseIdleConnections()
	g, fd := settle(t, baseG, baseFD, true)
	t.Logf("goroutines %d -> %d, open files %d -> %d", baseG, g, baseFD, fd)
}

// settle waits, up to a deadline, for the goroutine and open-file counts
// to come down to base (plus a little slack for the runtime and the test
// framework); without check it returns the counts once they stop falling.
func settle(t *testing.T, baseG, baseFD int, check bool) (int, int) {
	t.Helper()
	const slack = 2
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	prevG, prevFD, same := -1, -1, 0
	for {
		g, fd := runtime.NumGoroutine(), openFiles()
		if check && g <= baseG+slack && fd <= baseFD+slack {
			return g, fd
		}
		if !check {
			if g == prevG && fd == prevFD {
				if same++; same == 20 {
					return g, fd
				}
			} else {
				same = 0
			}
			prevG, prevFD = g, fd
		}
		if time.Now().After(deadline) {
			if !check {
				return g, fd
			}
			var b bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("after the clients left: %d goroutines (before: %d), %d open files (before: %d)\n%s", g, baseG, fd, baseFD, b.String())
		}
		<-tick.C
	}
}

// openFiles counts the process's open file descriptors (0 where /proc is
// not there: the goroutine count still checks).
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}
