package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestCheckPprofAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{"localhost:6060", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"10.0.0.5:6060", false},
		{"attest:6060", false},
		{"127.0.0.1", false},
	} {
		if err := checkPprofAddr(tc.addr); (err == nil) != tc.ok {
			t.Errorf("checkPprofAddr(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestPprofListener(t *testing.T) {
	// A free port: the pprof listener is opened by Run from an address.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ts := start(t, newProject(t, nil), WithPprofAddr(addr))
	ts.waitReady(t)
	resp, err := ts.client.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("pprof cmdline: %d %q", resp.StatusCode, body)
	}
	// The admission port does not serve the profiler.
	resp, err = ts.client.Get(ts.url + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("profiler on the main port: %d", resp.StatusCode)
	}
	ts.stop()
	if _, err := ts.client.Get("http://" + addr + "/debug/pprof/"); err == nil {
		t.Fatal("pprof listener still open after shutdown")
	}
}

func TestPprofRefusesNonLoopback(t *testing.T) {
	s, err := New(WithLoader(func(context.Context, bool) (*Snapshot, error) { return nil, nil }), WithPprofAddr("0.0.0.0:0"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background(), ln)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Run with a public pprof address: %v", err)
	}
}
