// Package loadgen is an open-loop HTTP load generator: requests are
// scheduled at a fixed rate whatever the server does, and each request's
// latency is measured from the time it was scheduled, not from the time
// it was sent. A server that falls behind is charged for the wait of the
// requests queued behind it (no coordinated omission): what a
// kube-apiserver calling a webhook would see.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	P999, Max  time.Duration
	// SendP99 is the p99 of the send lag: from a request's scheduled time
	// to the moment the generator wrote it. It is the part of the latency
	// spent before the server could see the request (the generator late
	// to wake, no core free for it, or every connection busy), which
	// tells a server's own tail from the machine's.
	SendP99 time.Duration
	// Latencies, when the generator keeps them (KeepLatencies), are every
	// request's latency in schedule order (request i was scheduled at
	// i*Interval from the start; -1: failed), for a time series of the run.
	Latencies []time.Duration
	Interval  time.Duration
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
//
// It shares the machine with the server it measures, so it is lean: its
// own keep-alive HTTP/1.1 connections, each request written as prebuilt
// bytes in one write and the answer read with http.ReadResponse, instead
// of net/http's Transport, whose two goroutines and channels per
// connection cost about as much CPU per request as a fast server. What is
// left of the generator's CPU is shown beside each measurement.
type Generator struct {
	Client        *http.Client // for one-off requests (checking an answer); the load does not use it
	Outstanding   int
	KeepLatencies bool // Run returns every request's latency (Result.Latencies)
	idle          chan *conn
}

type conn struct {
	host     string
	c        net.Conn
	br       *bufio.Reader
	deadline time.Time
}

// New makes a generator for loopback HTTP servers.
func New(outstanding int) *Generator {
	tr := &http.Transport{
		DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableCompression: true,
	}
	return &Generator{Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, Outstanding: outstanding,
		idle: make(chan *conn, outstanding)}
}

// request is a target prepared for the wire.
type request struct {
	host string // host:port to dial
	raw  []byte // the whole HTTP/1.1 request
}

func prepare(t Target) (request, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return request{}, err
	}
	if u.Scheme != "http" {
		return request{}, fmt.Errorf("%s: only http:// targets", t.URL)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		u.RequestURI(), u.Host, len(t.Body))
	b.Write(t.Body)
	return request{host: u.Host, raw: b.Bytes()}, nil
}

// Run sends rate requests a second for d and waits for every answer.
func (g *Generator) Run(ctx context.Context, t Target, rate float64, d time.Duration) Result {
	n := max(1, int(rate*d.Seconds()))
	rq, err := prepare(t)
	if err != nil {
		return Result{Rate: rate, Requests: n, Errors: n}
	}
	lat := make([]time.Duration, n)
	lag := make([]time.Duration, n)
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
			ok, sent := g.do(ctx, rq)
			done := time.Now()
			lat[i] = done.Sub(sched)
			lag[i] = sent.Sub(sched)
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
	lat, lag = lat[:n], lag[:n]
	r := Result{Rate: rate, Requests: n, Errors: int(errs.Load()), Elapsed: time.Duration(last.Load()), Interval: interval}
	if g.KeepLatencies {
		r.Latencies = slices.Clone(lat)
	}
	good := slices.DeleteFunc(lat, func(d time.Duration) bool { return d < 0 })
	slices.Sort(good)
	if len(good) > 0 && r.Elapsed > 0 {
		r.Throughput = float64(len(good)) / r.Elapsed.Seconds()
		r.P50 = good[len(good)/2]
		r.P99 = good[min(len(good)-1, len(good)*99/100)]
		r.P999 = good[min(len(good)-1, len(good)*999/1000)]
		r.Max = good[len(good)-1]
	}
	if len(lag) > 0 {
		slices.Sort(lag)
		r.SendP99 = lag[min(len(lag)-1, len(lag)*99/100)]
	}
	return r
}

// do sends one request on an idle connection (or a new one) and reads
// the whole answer; the connection goes back to the pool unless the
// server closes it or something failed. sent is when the request was
// about to be written.
func (g *Generator) do(ctx context.Context, rq request) (ok bool, sent time.Time) {
	var c *conn
	select {
	case c = <-g.idle:
		if c.host != rq.host { // left from an earlier target
			c.c.Close()
			c = nil
		}
	default:
	}
	if c == nil {
		nc, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", rq.host)
		if err != nil {
			return false, time.Now()
		}
		c = &conn{host: rq.host, c: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	}
	sent = time.Now()
	ok, reuse := c.roundTrip(rq)
	if !reuse {
		c.c.Close()
		return ok, sent
	}
	select {
	case g.idle <- c:
	default:
		c.c.Close()
	}
	return ok, sent
}

func (c *conn) roundTrip(rq request) (ok, reuse bool) {
	// A stuck server fails the request after 30 to 60 s. The deadline is
	// moved only when it gets near: setting it costs a timer update, which
	// per request is a tenth of the generator's CPU.
	if now := time.Now(); c.deadline.Sub(now) < 30*time.Second {
		c.deadline = now.Add(time.Minute)
		if err := c.c.SetDeadline(c.deadline); err != nil {
			return false, false
		}
	}
	if _, err := c.c.Write(rq.raw); err != nil {
		return false, false
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return false, false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, false
	}
	return resp.StatusCode == http.StatusOK, !resp.Close
}

// Close closes the idle connections.
func (g *Generator) Close() {
	for {
		select {
		case c := <-g.idle:
			c.c.Close()
		default:
			return
		}
	}
}

// Sustained reports whether the server kept up with the rate: no error,
// a p99 under maxP99, and at least 99% of the offered rate answered over
// the step, counted to the last answer. That last condition is what
// catches a small overload: a queue that grows through a 2 s step and
// takes more than 20 ms to drain at its end fails it, where a p99 bound
// alone let a server run a few percent over its capacity for a whole step
// and called that its peak.
func (r Result) Sustained(maxP99 time.Duration) bool {
	return r.Errors == 0 && r.Throughput >= 0.99*r.Rate && r.P99 <= maxP99
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
