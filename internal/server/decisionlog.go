package server

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Decision log batching. A write per admission decision (one system call
// each, under the log handler's lock) cost about a tenth of the server's
// throughput once the rest of a decision got cheap; the records are now
// gathered in memory and written together, every decisionFlushEvery or
// as soon as decisionFlushBytes are waiting, and at shutdown. A process
// killed outright loses at most that interval of records. Before Run
// starts the flusher (tests, benchmarks calling the handler directly)
// every record is written at once.
const (
	decisionFlushEvery = 100 * time.Millisecond
	decisionFlushBytes = 64 << 10
	// decisionMaxBytes: past this much waiting (the disk is slower than
	// the decisions), writers wait for the write instead of piling up
	// memory.
	decisionMaxBytes = 4 << 20
)

// batchWriter buffers whole records (slog's JSON handler writes each
// record, newline included, in one Write) and writes them in order.
type batchWriter struct {
	w       io.Writer
	mu      sync.Mutex // guards buf and running
	buf     []byte
	running bool
	kick    chan struct{}
	writeMu sync.Mutex // one write to w at a time, in order
}

func newBatchWriter(w io.Writer) *batchWriter {
	return &batchWriter{w: w, kick: make(chan struct{}, 1)}
}

func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	if !b.running {
		b.mu.Unlock()
		b.writeMu.Lock()
		defer b.writeMu.Unlock()
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	n := len(b.buf)
	b.mu.Unlock()
	switch {
	case n >= decisionMaxBytes:
		if err := b.flush(); err != nil {
			return 0, err
		}
	case n >= decisionFlushBytes:
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// flush writes what is waiting.
func (b *batchWriter) flush() error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.Lock()
	data := b.buf
	b.buf = nil
	b.mu.Unlock()
	if len(data) == 0 {
		return nil
	}
	_, err := b.w.Write(data)
	return err
}

// run batches until ctx is done, then writes what is left and goes back
// to writing each record at once. onErr hears of failed writes.
func (b *batchWriter) run(ctx context.Context, onErr func(error)) {
	b.mu.Lock()
	b.running = true
	b.mu.Unlock()
	t := time.NewTicker(decisionFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.mu.Lock()
			b.running = false
			b.mu.Unlock()
			if err := b.flush(); err != nil {
				onErr(err)
			}
			return
		case <-t.C:
		case <-b.kick:
		}
		if err := b.flush(); err != nil {
			onErr(err)
		}
	}
}

// startDecisionLog batches the decision log while the server runs. It
// outlives ctx on purpose: the returned func, called after the last
// in-flight request has logged its decision, writes out what is left and
// waits for it.
func (s *Server) startDecisionLog(ctx context.Context) (stop func()) {
	if s.dlogW == nil {
		return func() {}
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.dlogW.run(dctx, func(err error) {
			s.log.LogAttrs(dctx, slog.LevelError, "decision log write failed", slog.String("error", err.Error()))
		})
	}()
	return func() {
		cancel()
		<-done
	}
}
