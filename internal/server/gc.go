package server

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target for `attest serve` unless
// GOGC is set. The server's live heap is small (the compiled policies, a
// few MiB) while an admission review allocates about 60 KiB, so with Go's
// default of 100 it collects every few dozen requests, and every cycle
// also shrinks the stacks that OPA's evaluation then grows again. At 400
// the heap may grow to five times the live heap before a collection,
// which is still a few tens of MiB (docs/performance.md, "attest serve").
const gcPercent = 400

// tuneGC sets gcPercent unless the operator chose with GOGC.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
