package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// digest hashes every file's path and content, in walk order.
func digest(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h.Write([]byte(filepath.ToSlash(rel) + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func TestSameSeedSameBytes(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if _, err := Write(a, 500, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(b, 500, 7); err != nil {
		t.Fatal(err)
	}
	if digest(t, a) != digest(t, b) {
		t.Fatal("two corpora from the same seed differ")
	}
	c := filepath.Join(t.TempDir(), "c")
	if _, err := Write(c, 500, 8); err != nil {
		t.Fatal(err)
	}
	if digest(t, a) == digest(t, c) {
		t.Fatal("a different seed gave the same corpus")
	}
}

// A smaller corpus from the same seed is a prefix of a larger one except for
// the last, truncated file: sizes scale without reshuffling the content.
func TestPrefixStable(t *testing.T) {
	small := map[string][]byte{}
	var lastSmall string
	if err := Generate(300, 3, func(f File) error { small[f.Path] = f.Content; lastSmall = f.Path; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	err := Generate(600, 3, func(f File) error {
		if s, ok := small[f.Path]; ok && f.Path != lastSmall && !bytes.Equal(s, f.Content) {
			t.Errorf("%s differs between -n 300 and -n 600", f.Path)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func TestObjectCountAndValidYAML(t *testing.T) {
	for _, n := range []int{0, 1, 2, 37, 1000} {
		dir := filepath.Join(t.TempDir(), "corpus")
		st, err := Write(dir, n, 1)
		if err != nil {
			t.Fatal(err)
		}
		if st.Objects != n {
			t.Fatalf("n=%d: stats say %d objects", n, st.Objects)
		}
		kinds := map[string]int{}
		got := 0
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") {
				t.Errorf("unexpected file %s", p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dec := yaml.NewDecoder(bytes.NewReader(b))
			for {
				var obj map[string]any
				if err := dec.Decode(&obj); err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					t.Fatalf("%s: %v", p, err)
				}
				if obj == nil {
					t.Fatalf("%s: empty document", p)
				}
				md, _ := obj["metadata"].(map[string]any)
				if obj["apiVersion"] == nil || obj["kind"] == nil || md["name"] == nil {
					t.Fatalf("%s: not a Kubernetes object: %v", p, obj)
				}
				kinds[obj["kind"].(string)]++
				got++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Fatalf("n=%d: found %d objects on disk", n, got)
		}
		if n == 1000 {
			for _, k := range []string{"Deployment", "Service", "ConfigMap", "StatefulSet", "CronJob", "Pod"} {
				if kinds[k] < 30 {
					t.Errorf("only %d %s objects in 1000: %v", kinds[k], k, kinds)
				}
			}
		}
	}
}

func TestRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, 10, 1); err == nil {
		t.Fatal("wrote into a non-empty directory")
	}
}
