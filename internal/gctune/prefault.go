package gctune

import "runtime"

// Prefault grows the heap by mib MiB of pages that have been written to
// once, then frees them, so the allocations after it take memory the
// kernel has already mapped. It exists for one measurement only
// (docs/performance.md, "Session 5"): with GOGC=off and a large
// GOMEMLIMIT, a server that never collects would otherwise fault in a
// fresh page for every 4 KiB it allocates, and that cost would be taken
// for the collector's. Only a build with the benchprefault tag calls it.
func Prefault(mib int) {
	const page = 4096
	keep := make([][]byte, 0, mib)
	for range mib {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += page {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	clear(keep)
	// Collected and swept now: the pages are free spans of the heap, and
	// with GOGC=off the scavenger keeps them up to the memory limit.
	runtime.GC()
}
