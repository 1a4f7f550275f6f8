//go:build unix

package safefile

import (
	"os"
	"syscall"
)

// OpenNonBlocking opens path for reading, whatever it is, without waiting
// for a FIFO's writer. Reads of a regular file ignore the flag; those of a
// pipe go through Go's poller, so a read deadline can end them.
func OpenNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
