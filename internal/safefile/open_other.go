//go:build !unix

package safefile

import "os"

// OpenNonBlocking opens path for reading. Outside Unix there are no FIFOs
// in the file system to wait on.
func OpenNonBlocking(path string) (*os.File, error) {
	return os.Open(path)
}
