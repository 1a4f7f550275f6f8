package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/continuums/attest/internal/finding"
)

// LoadFile reads and parses one path as Discover returned it; "-" reads the
// Loader's stdin. Problems are reported in the File, never as a panic, and
// the result is never nil.
func (l *Loader) LoadFile(ctx context.Context, path string) *File {
	data, err := l.read(ctx, path)
	if err != nil {
		return &File{Path: path, Errors: []finding.Error{{Location: finding.Location{File: path}, Message: err.Error()}}}
	}
	return l.Parse(path, data)
}

// read returns the content of path, refusing anything over the size limit
// without reading it all.
func (l *Loader) read(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("not read: %w", err)
	}
	if path == "-" {
		if l.stdin == nil {
			return nil, errors.New("cannot read standard input: none given")
		}
		data, err := readLimited(l.stdin, l.maxFileSize)
		if err != nil {
			return nil, fmt.Errorf("cannot read standard input: %w", err)
		}
		return data, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, describeOSError(err)
	}
	if fi.IsDir() {
		return nil, errors.New("is a directory, not a file")
	}
	// Pipes and devices (/dev/stdin, <(helm template ...)) have no size:
	// readLimited stops at the limit instead.
	if fi.Mode().IsRegular() && fi.Size() > l.maxFileSize {
		return nil, fmt.Errorf("file is %d bytes, over the %s limit", fi.Size(), humanBytes(l.maxFileSize))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, describeOSError(err)
	}
	defer f.Close()
	data, err := readLimited(f, l.maxFileSize)
	if err != nil {
		return nil, describeOSError(err)
	}
	return data, nil
}

// readLimited reads r to the end, failing once more than max bytes came.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("input is over the %s limit", humanBytes(max))
	}
	return data, nil
}

// describeOSError drops the operation and path that *fs.PathError repeats:
// the finding's location already names the file.
func describeOSError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(pe.Err, fs.ErrNotExist):
			return errors.New("no such file or directory")
		case errors.Is(pe.Err, fs.ErrPermission):
			return errors.New("cannot read: permission denied")
		}
		return fmt.Errorf("cannot read: %w", pe.Err)
	}
	return fmt.Errorf("cannot read: %w", err)
}

// humanBytes prints a limit the way users set it.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}
