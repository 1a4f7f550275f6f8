package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(regular, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		limit      int64
		want       string
		wantErr    error
		tooLarge   bool
	}{
		{name: "regular", path: regular, limit: 10, want: "0123456789"},
		{name: "no limit", path: regular, want: "0123456789"},
		{name: "empty", path: empty, limit: 10, want: ""},
		{name: "over the limit", path: regular, limit: 9, tooLarge: true},
		{name: "directory", path: dir, wantErr: ErrDirectory},
		{name: "missing", path: filepath.Join(dir, "none"), wantErr: fs.ErrNotExist},
		{name: "device", path: os.DevNull, wantErr: ErrNotRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFile(tc.path, tc.limit)
			var tl *TooLargeError
			switch {
			case tc.tooLarge:
				if !errors.As(err, &tl) || tl.Limit != tc.limit || tl.Size <= tc.limit {
					t.Fatalf("err = %v, want a TooLargeError over %d", err, tc.limit)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case string(got) != tc.want:
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Open returns a file that is still open and the info of what it opened.
func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.rego")
	if err := os.WriteFile(path, []byte("package p\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st.Size() != 10 || !st.Mode().IsRegular() {
		t.Errorf("info: size %d, mode %v", st.Size(), st.Mode())
	}
	buf := make([]byte, 16)
	if n, err := f.Read(buf); err != nil || string(buf[:n]) != "package p\n" {
		t.Errorf("read %q, %v", buf[:n], err)
	}
}

func TestKind(t *testing.T) {
	for mode, want := range map[fs.FileMode]error{
		0o644:                    nil,
		fs.ModeDir | 0o755:       ErrDirectory,
		fs.ModeNamedPipe:         ErrNotRegular,
		fs.ModeSocket:            ErrNotRegular,
		fs.ModeDevice:            ErrNotRegular,
		fs.ModeCharDevice:        ErrNotRegular,
		fs.ModeSymlink | 0o777:   ErrNotRegular, // Lstat's view; Open follows links
		fs.ModeIrregular | 0o644: ErrNotRegular,
	} {
		if got := Kind(mode); got != want {
			t.Errorf("Kind(%v) = %v, want %v", mode, got, want)
		}
	}
}

func TestVisited(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, f := range []string{"pol/a.rego", "pol/b.rego", "elsewhere/pol/a.rego"} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("package p\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll("elsewhere/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "elsewhere", "sub"), "link"); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if err := os.Symlink(filepath.Join(dir, "pol", "a.rego"), "pol/alias.rego"); err != nil {
		t.Fatal(err)
	}
	v := Visited{}
	for _, tc := range []struct {
		path  string
		first bool
	}{
		{"pol/a.rego", true},
		{"pol/a.rego", false},
		{"./pol//a.rego", false},
		{filepath.Join(dir, "pol", "a.rego"), false},
		{"pol/alias.rego", false},       // a link to a file already read
		{"link/../pol/a.rego", true},    // the OS resolves link/.. to elsewhere/: another file
		{"elsewhere/pol/a.rego", false}, // that same file
		{"pol/b.rego", true},
		{"pol/missing.rego", true}, // not there: keyed by its path, reached once
		{"pol/missing.rego", false},
	} {
		if got := v.First(tc.path); got != tc.first {
			t.Errorf("First(%q) = %v, want %v", tc.path, got, tc.first)
		}
	}
}

// Errors from the look before the open read as the open's did.
func TestErrorWording(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "none.yaml"), 0)
	if err == nil || !strings.HasPrefix(err.Error(), "open ") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want open ...: no such file", err)
	}
}
