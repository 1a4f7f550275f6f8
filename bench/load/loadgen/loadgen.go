// Package loadgen is an open-loop HTTP load generator: requests are
// scheduled at a fixed rate whatever the server does, and each request's
// latency is measured from the time it was scheduled, not from the time
// it was sent. A server that falls behind is charged for the wait of the
// requests queued behind it (no coordinated omission): what a
// kube-apiserver calling a webhook would see.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one endpoint and the one body posted to it.
type Target struct {
	Name string
	URL  string
	Body []byte
}

// Result is one run at one rate.
type Result struct {
	Rate       float64       // offered, requests per second
	Requests   int           // scheduled
	Errors     int           // transport errors and non-200 answers
	Elapsed    time.Duration // first scheduled time to last answer
	Throughput float64       // answered (200) per second over Elapsed
	P50, P99   time.Duration // from the scheduled time
	Max        time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("offered %6.0f/s  answered %6.0f/s  p50 %7s  p99 %7s  max %7s  errors %d",
		r.Rate, r.Throughput, round(r.P50), round(r.P99), round(r.Max), r.Errors)
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// Generator sends the requests. Outstanding bounds the requests in flight
// (and the connections): past it, the schedule still runs on and the
// requests wait, their latency counting from their scheduled time.
type Generator struct {
	Client      *http.Client
	Outstanding int
}

// New makes a generator with a keep-alive client for loopback servers.
func New(outstanding int) *Generator {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        outstanding,
		MaxIdleConnsPerHost: outstanding,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &Generator{Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, Outstanding: outstanding}
}

// Run sends rate requests a second for d and waits for every answer.
func (g *Generator) Run(ctx context.Context, t Target, rate float64, d time.Duration) Result {
	n := max(1, int(rate*d.Seconds()))
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	sem := make(chan struct{}, g.Outstanding)
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now().Add(time.Millisecond)
	var last atomic.Int64 // latest answer, ns since start
	for i := range n {
		sched := start.Add(time.Duration(i) * interval)
		if wait := time.Until(sched); wait > 50*time.Microsecond {
			time.Sleep(wait)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			n = i
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ok := g.do(ctx, t)
			done := time.Now()
			lat[i] = done.Sub(sched)
			if !ok {
				errs.Add(1)
				lat[i] = -1
			}
			for at := int64(done.Sub(start)); ; {
				cur := last.Load()
				if at <= cur || last.CompareAndSwap(cur, at) {
					break
				}
			}
		}()
	}
	wg.Wait()
	lat = lat[:n]
	good := slices.DeleteFunc(lat, func(d time.Duration) bool { return d < 0 })
	slices.Sort(good)
	r := Result{Rate: rate, Requests: n, Errors: int(errs.Load()), Elapsed: time.Duration(last.Load())}
	if len(good) > 0 && r.Elapsed > 0 {
		r.Throughput = float64(len(good)) / r.Elapsed.Seconds()
		r.P50 = good[len(good)/2]
		r.P99 = good[min(len(good)-1, len(good)*99/100)]
		r.Max = good[len(good)-1]
	}
	return r
}

func (g *Generator) do(ctx context.Context, t Target) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(t.Body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.Client.Do(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK
}

// Sustained reports whether the server kept up with the rate: it
// answered at least 95% of the offered rate, with no error and a p99
// under maxP99 (a queue that grows through the step shows there first).
func (r Result) Sustained(maxP99 time.Duration) bool {
	return r.Errors == 0 && r.Throughput >= 0.95*r.Rate && r.P99 <= maxP99
}

// Ramp raises the rate from start by factor each step of d until two
// steps in a row are not sustained (Sustained(maxP99)) or the rate passes
// limit. The peak is the highest answered rate of a sustained step: the
// most the server keeps up with, not a burst it answers while its queue
// grows.
func (g *Generator) Ramp(ctx context.Context, t Target, start, factor, limit float64, d, maxP99 time.Duration, progress func(Result)) (peak float64, steps []Result) {
	// A server (or a machine) slower than the first rate: halve it until
	// one step is sustained.
	for start > 50 && ctx.Err() == nil {
		r := g.Run(ctx, t, start, d)
		if progress != nil {
			progress(r)
		}
		if r.Sustained(maxP99) {
			break
		}
		start /= 2
	}
	behind := 0
	for rate := start; rate <= limit && ctx.Err() == nil; rate *= factor {
		r := g.Run(ctx, t, rate, d)
		steps = append(steps, r)
		if progress != nil {
			progress(r)
		}
		if r.Sustained(maxP99) {
			peak = max(peak, r.Throughput)
			behind = 0
			continue
		}
		if behind++; behind == 2 {
			break
		}
	}
	return peak, steps
}
