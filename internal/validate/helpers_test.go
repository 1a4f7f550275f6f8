package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// loadResources reads every document of a testdata file into resources
// the way the manifest loader does (minus line numbers of fields).
func loadResources(t testing.TB, name string) []*manifest.Resource {
	t.Helper()
	path := filepath.Join("testdata", name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var out []*manifest.Resource
	for doc := 0; ; doc++ {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var x any
		if err := node.Decode(&x); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// Through JSON, so numbers are json.Number as ast.JSON gives them.
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ast.ValueFromReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := x.(map[string]any)
		meta, _ := m["metadata"].(map[string]any)
		r := &manifest.Resource{
			Location: finding.Location{File: path, Document: doc, Line: node.Content[0].Line, Column: node.Content[0].Column},
			Item:     -1,
			Value:    v,
		}
		r.APIVersion, _ = m["apiVersion"].(string)
		r.Kind, _ = m["kind"].(string)
		r.Name, _ = meta["name"].(string)
		r.Namespace, _ = meta["namespace"].(string)
		out = append(out, r)
	}
	return out
}
