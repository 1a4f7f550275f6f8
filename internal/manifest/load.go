package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/safefile"
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
	if ctx.Err() != nil {
		return nil, fmt.Errorf("not read: %w", context.Cause(ctx))
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
	// Stat first: a FIFO, socket or device is not opened blindly, as
	// open(2) on a FIFO without a writer never returns.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, describeOSError(err)
	}
	if err := notAFile(fi.Mode()); err != nil {
		return nil, err
	}
	// O_NONBLOCK, in case the path became a FIFO since the Stat: the
	// open returns at once whatever the file is, and what was opened is
	// checked again. Reads of a regular file ignore the flag; those of a
	// pipe go through Go's poller, so a cancelled ctx can end them.
	f, err := safefile.OpenNonBlocking(path)
	if err != nil {
		return nil, describeOSError(err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, describeOSError(err)
	}
	if err := notAFile(fi.Mode()); err != nil {
		return nil, err
	}
	var r io.Reader = f
	if fi.Mode()&fs.ModeNamedPipe != 0 {
		// A pipe (<(helm template .), /dev/stdin, a named FIFO) has no
		// size: readLimited stops at the limit instead. Opened without
		// blocking, it reads end-of-file at once when nothing writes to
		// it; a writer that stays silent is waited for, as stdin is, until
		// ctx is done.
		stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
		defer stop()
		first := make([]byte, 4096)
		n, err := f.Read(first)
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, errors.New(msgFIFONoWriter)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, readError(ctx, err)
		}
		r = io.MultiReader(bytes.NewReader(first[:n]), f)
	} else if fi.Size() > l.maxFileSize {
		// Refused from its size, without reading it.
		return nil, fmt.Errorf("file is %d bytes, over the %s limit", fi.Size(), humanBytes(l.maxFileSize))
	}
	data, err := readLimited(r, l.maxFileSize)
	if err != nil {
		return nil, readError(ctx, err)
	}
	return data, nil
}

// msgFIFONoWriter is the error for a pipe that gave nothing: no process
// had it open for writing.
const msgFIFONoWriter = "is a named pipe (FIFO) that nothing writes to; name a file, or - to read stdin"

// notAFile refuses what cannot be read as a manifest file: directories,
// sockets, devices and other special files. Pipes are read.
func notAFile(m fs.FileMode) error {
	switch {
	case m.IsRegular(), m&fs.ModeNamedPipe != 0:
		return nil
	case m.IsDir():
		return errors.New("is a directory, not a file")
	case m&fs.ModeSocket != 0:
		return errors.New("is a socket, not a file")
	case m&fs.ModeDevice != 0:
		return errors.New("is a device, not a file")
	}
	return errors.New("is not a regular file")
}

// readError says why a read stopped: ctx, when it was cut short by ctx.
func readError(ctx context.Context, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("not read: %w", context.Cause(ctx))
	}
	return describeOSError(err)
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
