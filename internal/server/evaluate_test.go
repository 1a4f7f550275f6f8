package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEvaluateLimits: /v1/evaluate has a body limit of its own, refuses
// a ?strict= it cannot read, and runs one request at a time.
func TestEvaluateLimits(t *testing.T) {
	ts := start(t, newProject(t, nil), WithEvaluateBodyLimit(8<<10), WithEvalTimeout(time.Second))
	ts.waitReady(t)
	pod := []byte(privilegedPod)
	if code, body := ts.post(t, "/v1/evaluate", "application/yaml", pod); code != 200 {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	big := []byte(privilegedPod + "\n---\n" + strings.Repeat("# padding\n", 1000))
	if code, body := ts.post(t, "/v1/evaluate", "application/yaml", big); code != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "8192 byte limit") {
		t.Errorf("over the limit: HTTP %d: %s", code, body)
	}
	if code, body := ts.post(t, "/v1/evaluate?strict=yes", "application/yaml", pod); code != http.StatusBadRequest {
		t.Errorf("strict=yes: HTTP %d: %s", code, body)
	}

	// While another evaluation runs (its slot taken here), a request waits
	// rather than running beside it; it is answered once the slot frees.
	ts.evaluating <- struct{}{}
	done := make(chan int, 1)
	go func() {
		resp, err := ts.client.Post(ts.url+"/v1/evaluate", "application/yaml", strings.NewReader(privilegedPod))
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		t.Fatalf("answered (%d) while another evaluation held the slot", code)
	case <-time.After(200 * time.Millisecond):
		// Not a wait for a condition: the absence of an answer over this
		// window is what is tested.
	}
	<-ts.evaluating
	if code := <-done; code != 200 {
		t.Fatalf("after the slot freed: HTTP %d", code)
	}

	// A slow upload holds a place in the queue, not the evaluation slot:
	// another request is answered while it trickles.
	slow, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Write([]byte("POST /v1/evaluate HTTP/1.1\r\nHost: attest\r\nContent-Length: 4000\r\n\r\napiVersion: v1\n")); err != nil {
		t.Fatal(err)
	}
	if code, body := ts.post(t, "/v1/evaluate", "application/yaml", pod); code != 200 {
		t.Fatalf("while another client uploads slowly: HTTP %d: %s", code, body)
	}
	slow.Close()
	// A full queue is told to come back at once.
	for range cap(ts.evalQueue) {
		ts.evalQueue <- struct{}{}
	}
	code, body := ts.post(t, "/v1/evaluate", "application/yaml", pod)
	for range cap(ts.evalQueue) {
		<-ts.evalQueue
	}
	if code != http.StatusServiceUnavailable {
		t.Fatalf("queue full: HTTP %d: %s", code, body)
	}

	// A request that cannot start within the evaluation deadline is told
	// to come back (503, Retry-After) instead of waiting on.
	ts.evaluating <- struct{}{}
	code, body = ts.post(t, "/v1/evaluate", "application/yaml", pod)
	<-ts.evaluating
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "busy") {
		t.Fatalf("while busy past the deadline: HTTP %d: %s", code, body)
	}
	if code, _ := ts.post(t, "/v1/evaluate", "application/yaml", pod); code != 200 {
		t.Fatalf("afterwards: HTTP %d", code)
	}
}

// TestServesWhileFirstLoadRuns: the first load (a bundle download can take
// up to --bundle-timeout) runs while the server answers, so the kubelet's
// liveness probe does not restart a pod that is only waiting for it.
func TestServesWhileFirstLoadRuns(t *testing.T) {
	release := make(chan struct{})
	load := func(ctx context.Context, force bool) (*Snapshot, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("no policies in this test")
	}
	s, err := New(WithLoader(load), WithPollInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	addr, _, _ := runServer(t, s)
	defer close(release) // before the server stops (a cleanup)
	client := &http.Client{Timeout: 10 * time.Second}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("%s while the first load runs: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s while the first load runs: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestUnchangedPollKeepsTheBundleCurrent: a poll that finds nothing
// changed moves attest_bundle_last_successful_load_timestamp_seconds, so
// AttestPolicyBundleStale (an hour without a good load, and a failure)
// does not fire for a bundle that is merely unchanged.
func TestUnchangedPollKeepsTheBundleCurrent(t *testing.T) {
	ts := start(t, newProject(t, nil))
	ts.waitReady(t)
	before := sample(ts.scrape(t), "attest_bundle_last_successful_load_timestamp_seconds", nil)
	if err := ts.Reload(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if after := sample(ts.scrape(t), "attest_bundle_last_successful_load_timestamp_seconds", nil); !(after > before) {
		t.Fatalf("timestamp %v after an unchanged poll, was %v", after, before)
	}
}
