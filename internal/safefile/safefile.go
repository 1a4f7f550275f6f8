// Package safefile opens and reads the files attest finds in users'
// folders or at conventional paths (configuration, exemptions, policies,
// Gatekeeper sets, bundle directories) without hanging on what is not a
// regular file: open(2) of a FIFO that nothing writes to never returns,
// and a device such as /dev/zero never ends. Such a path gets an error of
// its own, and the caller goes on with the other files.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Errors for what is not a regular file. They carry no path: callers
// name the file in their own error's location.
var (
	ErrDirectory  = errors.New("is a directory")
	ErrNotRegular = errors.New("is not a regular file (a pipe, socket or device)")
)

// TooLargeError is a file over the caller's size limit.
type TooLargeError struct {
	Size  int64 // bytes, as far as known (at least Limit+1)
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("is %d bytes, over the %d-byte limit", e.Size, e.Limit)
}

// Kind says why a file mode is not a regular file's: ErrDirectory,
// ErrNotRegular, or nil for a regular file.
func Kind(m fs.FileMode) error {
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return ErrDirectory
	}
	return ErrNotRegular
}

// Open opens path for reading if it is a regular file. It looks before
// opening, opens without waiting for a FIFO's writer (in case the path
// became one in between), and looks again at what it opened. Errors from
// the file system are *fs.PathError as os returns them.
func Open(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		// Worded as the open that the look stands for ("open x: no such
		// file or directory"), as callers' messages always were.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open"
		}
		return nil, nil, err
	}
	if err := Kind(st.Mode()); err != nil {
		return nil, nil, err
	}
	f, err := OpenNonBlocking(path)
	if err != nil {
		return nil, nil, err
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := Kind(st.Mode()); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// ReadFile reads a regular file of at most limit bytes (no limit when
// limit <= 0). A file that grows past the limit while it is read is
// refused too.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, st, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if limit > 0 && st.Size() > limit {
		return nil, &TooLargeError{Size: st.Size(), Limit: limit}
	}
	var r io.Reader = f
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if limit > 0 && int64(len(data)) > limit {
		return nil, &TooLargeError{Size: int64(len(data)), Limit: limit}
	}
	return data, nil
}

// Visited remembers which files were reached, by the absolute path with
// symbolic links resolved, so that a folder named twice (a project's
// policies/ and --policy policies/, once relative and once absolute) is
// read once and a bad file in it gives one error, not two.
type Visited map[string]bool

// First says whether path is reached for the first time, and remembers it.
// A path whose links cannot be resolved (a dangling one) is keyed by its
// absolute path: it is still reached, and its error reported, once.
func (v Visited) First(path string) bool {
	// Links first: filepath.Abs cleans "link/.." away as text, where the
	// system would follow the link.
	key := path
	if real, err := filepath.EvalSymlinks(path); err == nil {
		key = real
	}
	if abs, err := filepath.Abs(key); err == nil {
		key = abs
	} else {
		key = filepath.Clean(key)
	}
	if v[key] {
		return false
	}
	v[key] = true
	return true
}
