//go:build benchprefault

package gctune

import (
	"os"
	"strconv"
)

// A build with the benchprefault tag prefaults ATTEST_PREFAULT_MB MiB at
// start (see Prefault). No release build has this tag.
func init() {
	if mib, err := strconv.Atoi(os.Getenv("ATTEST_PREFAULT_MB")); err == nil && mib > 0 {
		Prefault(mib)
	}
}
