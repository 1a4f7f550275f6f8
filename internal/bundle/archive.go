package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// maxEntries caps the files of one archive: a policy bundle has tens.
const maxEntries = 10000

// MaxRegoFile caps one Rego file, in a bundle as in a policy folder.
const MaxRegoFile = 8 << 20

// maxName caps an entry's name (and link target): paths of a policy
// bundle are short.
const maxName = 4096

// checkArchive reads the headers of a bundle archive, and no file's
// content beyond what skipping it takes, before OPA reads it. OPA's
// tarball loader makes a buffer of the size a header declares before
// reading a byte (a 200-byte archive declaring 2^60 bytes crashed the
// process) and adds up no total, so a small archive of zeros could fill
// memory. Here the files together must fit in MaxSize, and a path may
// appear once: OPA would keep one copy and `tar x` another.
func checkArchive(data []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(gz)
	var files budget
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		// A name of a megabyte, 10,000 times, is 10 GB of names before a
		// byte of content.
		if len(h.Name) > maxName || len(h.Linkname) > maxName {
			return fmt.Errorf("entry %.64s…: a name of %d bytes (at most %d)", h.Name, max(len(h.Name), len(h.Linkname)), maxName)
		}
		// Every entry's content is decompressed to skip it, whatever its
		// type, so every entry counts; OPA reads regular files only.
		if err := files.add("entry "+h.Name, h.Size, h.Typeflag == tar.TypeReg && strings.HasSuffix(h.Name, ".rego")); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean("/" + strings.TrimPrefix(h.Name, "./"))
		if seen[name] {
			return fmt.Errorf("entry %s: appears twice", h.Name)
		}
		seen[name] = true
	}
}

// budget holds one bundle's files to the limits, whether they come from an
// archive (checkArchive) or a folder (checkDir).
type budget struct {
	n     int
	total int64
}

// add counts a file of size bytes; rego says OPA parses it as a module,
// which takes hundreds of times its size (a 16 MiB list of zeros, 4.7 GB),
// so the limit of a policy folder's files holds for it.
func (b *budget) add(name string, size int64, rego bool) error {
	if b.n++; b.n > maxEntries {
		return fmt.Errorf("over %d entries", maxEntries)
	}
	if size < 0 || size > MaxSize-b.total {
		return fmt.Errorf("%s: %d bytes: the files of a bundle may hold %d bytes in all", name, size, MaxSize)
	}
	b.total += size
	if rego && size > MaxRegoFile {
		return fmt.Errorf("%s: %d bytes: a Rego file may hold %d", name, size, MaxRegoFile)
	}
	return nil
}
