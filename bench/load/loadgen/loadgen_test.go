package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// With one request in flight and the first answer held back, the requests
// scheduled behind it cannot be written until it comes: the send lag
// counts that wait, and the latency includes it.
func TestSendLag(t *testing.T) {
	const hold = 30 * time.Millisecond
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			time.Sleep(hold) // a slow server, not a wait for a condition
		}
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	g := New(1)
	defer g.Close()
	r := g.Run(context.Background(), Target{URL: srv.URL, Body: []byte("{}")}, 1000, 20*time.Millisecond)
	if r.Errors != 0 || r.Requests != 20 {
		t.Fatalf("%d requests, %d errors; want 20, 0", r.Requests, r.Errors)
	}
	// Request 1 was scheduled about 1 ms after request 0 and waited for
	// its answer: its lag is at least hold minus its 1 ms offset.
	if r.SendP99 < hold-2*time.Millisecond {
		t.Errorf("send p99 %v, want at least %v: the wait for the held answer is not counted", r.SendP99, hold-2*time.Millisecond)
	}
	if r.SendP99 > r.Max {
		t.Errorf("send p99 %v above the highest latency %v", r.SendP99, r.Max)
	}
}
