package check

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/fstest"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
)

// The result does not depend on how many workers ran or in which order
// files finished.
func TestDeterministicAcrossParallelism(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := range 40 {
		p := filepath.Join(dir, fmt.Sprintf("f%02d.yaml", i))
		body := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p%d\nspec:\n  containers:\n    - name: a\n      image: img:%d\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s%d\n", i, i%3, i)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	fsys := fstest.MapFS{"p.rego": {Data: []byte(`package t
import rego.v1
violation contains {"message": sprintf("pod %s", [input.resource.metadata.name])} if input.resource.kind == "Pod"
violation contains {"message": "tag zero", "details": {"field": "spec.containers[0].image"}} if endswith(input.resource.spec.containers[0].image, ":0")
`)}}
	set, errs := policy.Load(context.Background(), policy.WithBuiltin(fsys))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	eng, cerrs, err := engine.New(context.Background(), set)
	if err != nil || len(cerrs) > 0 {
		t.Fatal(err, cerrs)
	}
	loader := manifest.NewLoader()
	one := Run(context.Background(), loader, eng, files, WithParallel(1))
	many := Run(context.Background(), loader, eng, files, WithParallel(8))
	if one.Resources != 80 || len(one.Findings) != 40+14 {
		t.Fatalf("resources %d, findings %d", one.Resources, len(one.Findings))
	}
	if !reflect.DeepEqual(one, many) {
		t.Fatal("results differ between 1 and 8 workers")
	}
	for i := 1; i < len(one.Findings); i++ {
		a, b := one.Findings[i-1].Location, one.Findings[i].Location
		if a.File > b.File || (a.File == b.File && a.Line > b.Line) {
			t.Fatalf("findings out of order at %d: %v then %v", i, a, b)
		}
	}
}

func TestCancelledRunSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Run(ctx, manifest.NewLoader(), nil, []string{"a.yaml", "b.yaml"})
	if len(res.Errors) == 0 {
		t.Fatal("a cancelled run reported no error")
	}
}
