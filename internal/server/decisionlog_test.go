package server

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the flusher and the test.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.writes
}

func TestBatchWriterBeforeRunWritesAtOnce(t *testing.T) {
	var out syncBuffer
	b := newBatchWriter(&out)
	if _, err := b.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.snapshot(); got != "one\n" {
		t.Fatalf("got %q", got)
	}
}

// While running, records from many goroutines are batched into far fewer
// writes; at shutdown every record is there once, whole, and each
// goroutine's records in the order it wrote them.
func TestBatchWriterBatchesAndFlushesAtShutdown(t *testing.T) {
	var out syncBuffer
	b := newBatchWriter(&out)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.run(ctx, func(err error) { t.Error(err) })
	}()
	// Wait until the flusher runs (writes are direct before that).
	for deadline := time.Now().Add(10 * time.Second); ; {
		b.mu.Lock()
		r := b.running
		b.mu.Unlock()
		if r {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("flusher did not start")
		}
		runtimeGosched()
	}
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := fmt.Fprintf(b, "{\"w\":%d,\"i\":%d,\"pad\":%q}\n", w, i, strings.Repeat("x", 40)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	<-done
	got, writes := out.snapshot()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("%d records, want %d", len(lines), writers*each)
	}
	next := make([]int, writers)
	for _, l := range lines {
		var w, i int
		if _, err := fmt.Sscanf(l, "{\"w\":%d,\"i\":%d,", &w, &i); err != nil {
			t.Fatalf("broken record %q: %v", l, err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: record %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
	if writes >= writers*each/10 {
		t.Errorf("%d writes for %d records: not batched", writes, writers*each)
	}
	// After shutdown, writes go straight through again.
	if _, err := b.Write([]byte("late\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.snapshot(); !strings.HasSuffix(got, "late\n") {
		t.Fatal("a record after shutdown was not written")
	}
}

// Past decisionFlushBytes the flusher writes without waiting for its
// ticker; past decisionMaxBytes the writer itself writes.
func TestBatchWriterFlushesWhenFull(t *testing.T) {
	var out syncBuffer
	b := newBatchWriter(&out)
	b.mu.Lock()
	b.running = true // no flusher: only the size limit can write
	b.mu.Unlock()
	rec := []byte(strings.Repeat("y", 1023) + "\n")
	for range decisionMaxBytes / len(rec) {
		if _, err := b.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := out.snapshot(); len(got) != decisionMaxBytes {
		t.Fatalf("%d bytes written, want %d (the writer flushes at the limit)", len(got), decisionMaxBytes)
	}
	if len(b.kick) != 1 {
		t.Fatal("the flusher was not told the buffer passed decisionFlushBytes")
	}
}

// The real server batches the decision log and, at shutdown, writes every
// decision it made, one JSON line each.
func TestDecisionLogWrittenByShutdown(t *testing.T) {
	var out syncBuffer
	ts := start(t, newProject(t, nil), WithDecisionLog(&out))
	ts.waitReady(t)
	const n = 20
	for i := range n {
		if code, b := ts.post(t, "/v1/admission", "application/json", review(fmt.Sprintf("uid-%d", i), "CREATE", privilegedPod, "")); code != 200 {
			t.Fatalf("admission: %d %s", code, b)
		}
	}
	ts.stop()
	got, _ := out.snapshot()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d decision records, want %d:\n%s", len(lines), n, got)
	}
	for i, l := range lines {
		if !strings.Contains(l, fmt.Sprintf(`"uid":"uid-%d"`, i)) || !strings.Contains(l, `"decision":"denied"`) {
			t.Errorf("record %d: %s", i, l)
		}
	}
}
