// Package gctune sets Go's garbage collector for the attest process: one
// setting for the one-shot commands, another, kept up to date while it
// runs, for the long-running server. Operators who set GOGC or GOMEMLIMIT
// keep their choice in both.
package gctune

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// Command is the setting of every one-shot command: a check run allocates
// heavily (YAML nodes, OPA values) but keeps little alive, so the default
// GOGC=100 collects far more often than it needs to; a soft memory limit
// keeps the heap bounded whatever the corpus size.
func Command(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(48 << 20)
	}
}

// The server's live heap is small (the compiled policies, a few MiB) while
// an admission review allocates about 50 KiB that is garbage a millisecond
// later. With a heap goal proportional to that live heap (Go's GOGC), the
// collector runs several times a second under load; each cycle takes CPU
// from the handlers and each stop-the-world phase, on a busy two-core
// node, can last milliseconds: it shows in p99. So the goal is the live
// heap plus a fixed allowance for garbage, bounded by the container's
// memory limit (docs/performance.md, "attest serve").
const (
	// gcHeadroom is the garbage allowed between collections.
	gcHeadroom = 64 << 20
	// gcMinPercent keeps the old setting as a floor for large policy sets.
	gcMinPercent = 400
	// gcMaxPercent bounds the goal for a tiny live heap.
	gcMaxPercent = 5000
	// memLimitShare of the cgroup memory limit becomes the soft limit, so
	// the collector works harder before the kernel's OOM killer would.
	memLimitShare = 0.85
)

// Server is how a long-running server sets the collector.
type Server struct {
	percent bool // keep the GC percent at gcPercentFor(the live heap)
	limit   bool // set the soft memory limit
	cgroup  string
}

// NewServer reads GOGC and GOMEMLIMIT through getenv: what is set there is
// left alone.
func NewServer(getenv func(string) string) Server {
	return Server{percent: getenv("GOGC") == "", limit: getenv("GOMEMLIMIT") == "", cgroup: "/sys/fs/cgroup"}
}

// Start sets the soft memory limit: a share of the container's limit, or
// none. (Command's small limit is for one-shot runs; a long-running server
// under a container limit wants that limit instead.)
func (g Server) Start() {
	if !g.limit {
		return
	}
	limit := int64(math.MaxInt64)
	if c := cgroupMemoryLimit(g.cgroup); c > 0 {
		limit = int64(float64(c) * memLimitShare)
	}
	debug.SetMemoryLimit(limit)
}

// Run keeps the GC percent at gcPercentFor(the live heap) until ctx is
// done. The live heap moves with the load (in-flight requests, connection
// buffers) and with reloads, so it is read again every interval; Go's
// collector has no hook for this, and setting the percent is cheap (no
// stop-the-world).
func (g Server) Run(ctx context.Context, every time.Duration) {
	if !g.percent {
		return
	}
	cur := gcPercentFor(liveHeap())
	debug.SetGCPercent(cur)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Only a change of more than a tenth: no churn on noise.
		if p := gcPercentFor(liveHeap()); p*10 < cur*9 || p*10 > cur*11 {
			debug.SetGCPercent(p)
			cur = p
		}
	}
}

// gcPercentFor is the percent whose goal is live plus gcHeadroom, within
// [gcMinPercent, gcMaxPercent].
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := int(math.Ceil(float64(gcHeadroom) * 100 / float64(live)))
	return min(max(p, gcMinPercent), gcMaxPercent)
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// cgroupMemoryLimit reads the memory limit of the process's cgroup (v2,
// then v1); 0 when there is none or it cannot be read.
func cgroupMemoryLimit(root string) uint64 {
	for _, f := range []string{root + "/memory.max", root + "/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0
		}
		n, err := strconv.ParseUint(v, 10, 64)
		// cgroup v1 says "no limit" with a huge page-rounded number.
		if err != nil || n >= 1<<62 {
			return 0
		}
		return n
	}
	return 0
}
