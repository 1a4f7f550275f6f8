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
			r.Locate("spec.template.spec.containers[?(@.name=='app')].image")
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

// FuzzLocatePath checks that no path, however malformed, makes Locate or
// a value-only Find panic, and that both agree on what exists.
func FuzzLocatePath(f *testing.F) {
	for _, p := range []string{
		"spec.containers[?(@.name=='app')].image", `spec.containers[?(@.name=="side]car")].env[?(@.name=="B")].value`,
		"spec.containers[?@.name=='app'].image", "spec.containers[?(@.name=='app", `metadata.annotations["a.b/c"]`,
		"/spec/containers/0/image", "$['metadata']['name']", "spec.containers[*]", "[?(", "[?(@.=='')]",
	} {
		f.Add(p)
	}
	r := NewLoader().Parse("f.yaml", []byte(filterDoc)).Resources[0]
	v := FromValue("f.json", r.Value)
	f.Fuzz(func(t *testing.T, path string) {
		line, col, exact := r.Locate(path)
		if (line > 0) != (col > 0) || (exact && line == 0) {
			t.Errorf("Locate(%q) = %d:%d exact %v", path, line, col, exact)
		}
		if segs, ok := parsePath(path); ok && len(segs) == 0 {
			return // the object itself: a value-only Find does not say found
		}
		if _, _, found, vexact := v.Find(path); found != (line > 0) || vexact != exact {
			t.Errorf("Find(%q) on the value: found %v exact %v; on the nodes %d:%d exact %v", path, found, vexact, line, col, exact)
		}
	})
}
