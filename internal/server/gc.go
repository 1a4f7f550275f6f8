package server

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

// gcPolicy says how the server sets the collector. Operators who set
// GOGC or GOMEMLIMIT keep their choice.
type gcPolicy struct {
	percent bool // set the GC percent after each load
	limit   bool // set the soft memory limit
	cgroup  string
}

func newGCPolicy(getenv func(string) string) gcPolicy {
	return gcPolicy{percent: getenv("GOGC") == "", limit: getenv("GOMEMLIMIT") == "", cgroup: "/sys/fs/cgroup"}
}

// start sets the soft memory limit: a share of the container's limit, or
// none. (The attest binary sets a small limit for its one-shot commands;
// a long-running server under a container limit wants that limit instead.)
func (g gcPolicy) start() {
	if !g.limit {
		return
	}
	limit := int64(math.MaxInt64)
	if c := cgroupMemoryLimit(g.cgroup); c > 0 {
		limit = int64(float64(c) * memLimitShare)
	}
	debug.SetMemoryLimit(limit)
}

// run keeps the GC percent at gcPercentFor(the live heap) until ctx is
// done. The live heap moves with the load (in-flight requests, connection
// buffers) and with reloads, so it is read again every interval; Go's
// collector has no hook for this, and setting the percent is cheap (no
// stop-the-world).
func (g gcPolicy) run(ctx context.Context, every time.Duration) {
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
