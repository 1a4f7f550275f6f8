package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name string
	size int64 // declared size
	data io.Reader
	typ  byte // tar.TypeReg when 0
}

// archive writes entries as a gzipped tar; an entry without data gets a
// header and nothing else, as a hostile archive can.
func archive(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: e.size, Typeflag: typ}); err != nil {
			t.Fatal(err)
		}
		if e.data == nil {
			break // the rest of the archive is missing, as in the attack
		}
		if _, err := io.Copy(tw, e.data); err != nil {
			t.Fatal(err)
		}
	}
	_ = tw.Flush()
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func text(s string) entry { return entry{size: int64(len(s)), data: strings.NewReader(s)} }

func named(name string, e entry) entry { e.name = name; return e }

func zeros(n int64) entry { return entry{size: n, data: io.LimitReader(zeroReader{}, n)} }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestHostileArchives: every one is refused with the entry named, before
// OPA allocates what a header claims. The first case crashed the process
// ("makeslice: cap out of range"); the second filled 1.3 GB from 1.2 MB.
func TestHostileArchives(t *testing.T) {
	rule := func() entry { return named("p.rego", text("package p\nimport rego.v1\nx := 1\n")) }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"header claims 2^60 bytes", archive(t, entry{name: "x.bin", size: 1 << 60}), "entry x.bin: 1152921504606846976 bytes"},
		{"files over the limit together", archive(t, rule(), named("a.json", zeros(40<<20)), named("b.json", zeros(40<<20))), "entry b.json: 41943040 bytes"},
		{"a path twice", archive(t, rule(), named("./p.rego", text("package p\nx := 2\n"))), "entry ./p.rego: appears twice"},
		{"not gzip", []byte("plain text, not an archive"), "not a gzip archive"},
		{"truncated", archive(t, rule())[:40], "read"},
		{"a name of 64 KiB", archive(t, named(strings.Repeat("n", 64<<10)+".rego", text("package p\n"))), "a name of 65541 bytes"},
		{"content of entries OPA skips counts too", archive(t, rule(), entry{name: "big.bin", size: 65 << 20, typ: 'Z'}), "the files of a bundle may hold"},
		{"a Rego file over 8 MiB", archive(t, named("big.rego", zeros(9<<20))), "a Rego file may hold 8388608"},
		{"empty", archive(t, named(".manifest", text(`{"revision":"r"}`))), "no Rego and no data"},
		{"delta", archive(t, named("patch.json", text(`{"data":[{"op":"upsert","path":"/a","value":1}]}`))), "a delta bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.data, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Read(archive(t, rule(), named("data.json", text(`{"a":1}`))), nil); err != nil {
		t.Fatalf("a sound archive: %v", err)
	}
}

// FuzzRead: whatever the bytes, Read returns a bundle or an error; it
// never panics and never allocates what a header merely claims.
func FuzzRead(f *testing.F) {
	f.Add(archive(f, named("p.rego", text("package p\nimport rego.v1\nx := 1\n")), named("data.json", text(`{"a":1}`))))
	f.Add(archive(f, named(".manifest", text(`{"revision":"r","roots":["p"]}`)), named("p/p.rego", text("package p\n"))))
	f.Add(archive(f, entry{name: "x.bin", size: 1 << 40}))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Read(data, nil)
	})
}

// TestFolderLimits: a bundle folder is held to an archive's limits.
func TestFolderLimits(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("0"), size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package p\nimport rego.v1\nx := 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPath(dir, nil); err != nil {
		t.Fatalf("a sound folder: %v", err)
	}
	write("a/data.json", 40<<20)
	write("b/data.json", 40<<20)
	if _, err := ReadPath(dir, nil); err == nil || !strings.Contains(err.Error(), "may hold 67108864 bytes in all") {
		t.Fatalf("80 MiB of files: %v", err)
	}
}
