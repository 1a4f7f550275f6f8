package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the loader panic or hang, and that
// every resource it returns can be pointed at.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range diffSeeds {
		f.Add([]byte(s))
	}
	// Lists in Lists, empty Lists, and Lists through aliases.
	f.Add([]byte(nestedLists(3)))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n- {apiVersion: v1, kind: List, items: null}\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nx: &a [{apiVersion: v1, kind: Pod}]\nitems: [{apiVersion: v1, kind: List, items: *a}, *a]\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: &x\n- apiVersion: v1\n  kind: List\n  items: *x\n"))
	l := NewLoader(WithMaxAliasExpansion(10_000))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := l.Parse("fuzz.yaml", data)
		if file == nil {
			t.Fatal("nil File")
		}
		for _, r := range file.Resources {
			if r.Location.Line <= 0 || r.Location.Column <= 0 {
				t.Errorf("resource %v at %v", r.Ref(), r.Location)
			}
			if r.Value == nil || r.APIVersion == "" || r.Kind == "" {
				t.Errorf("incomplete resource %+v", r)
			}
			r.Locate("spec.template.spec.containers[0].image")
			r.Locate("/metadata/name")
			for _, c := range r.Containers() {
				if c.Line <= 0 {
					t.Errorf("container %+v without line", c)
				}
			}
			r.Object()
		}
		for _, e := range file.Errors {
			if e.Message == "" || e.Location.File != "fuzz.yaml" {
				t.Errorf("bad error %+v", e)
			}
		}
	})
}
