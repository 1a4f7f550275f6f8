package main

import (
	"os"
	"runtime/debug"
)

// tuneGC trades a little memory for a lot less collection: a check run
// allocates heavily (YAML nodes, OPA values) but keeps little alive, so the
// default GOGC=100 collects far more often than it needs to. A soft memory
// limit keeps the heap bounded whatever the corpus size. Users' GOGC and
// GOMEMLIMIT win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(48 << 20)
	}
}
