package gatekeeper

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
)

// build loads files from testdata/bad and builds them.
func build(t *testing.T, files ...string) []finding.Error {
	t.Helper()
	var objs Objects
	var errs []finding.Error
	for _, f := range files {
		o, e := LoadFile(filepath.Join("testdata", "bad", f))
		objs.Templates = append(objs.Templates, o.Templates...)
		objs.Constraints = append(objs.Constraints, o.Constraints...)
		errs = append(errs, e...)
	}
	_, berrs := Build(objs)
	return append(errs, berrs...)
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		files []string
		want  []string // each must appear in one error, as file:line: message
	}{
		{[]string{"broken-template.yaml"}, []string{"testdata/bad/broken-template.yaml:16:", "undefined_thing"}},
		{[]string{"http-template.yaml"}, []string{"testdata/bad/http-template.yaml:16:", "http.send"}},
		{[]string{"data-template.yaml"}, []string{"testdata/bad/data-template.yaml:16:", "only data.inventory and data.lib"}},
		{[]string{"name-template.yaml"}, []string{"testdata/bad/name-template.yaml:4:", `must be the lowercase of its kind "K8sRight"`}},
		{[]string{"noviolation-template.yaml"}, []string{"testdata/bad/noviolation-template.yaml:13:", "no violation rule"}},
		{[]string{"unknown-constraint.yaml"}, []string{"testdata/bad/unknown-constraint.yaml:1:1: constraint nowhere is of kind K8sNowhere, which no ConstraintTemplate defines"}},
		{[]string{"params.yaml"}, []string{
			"testdata/bad/params.yaml:34:9: K8sParams bad-params: spec.parameters.repos[1]: must be a string, not integer",
			`testdata/bad/params.yaml:35:10: K8sParams bad-params: spec.parameters.max: must be an integer, not string`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.files[0], func(t *testing.T) {
			errs := build(t, tt.files...)
			var texts []string
			for _, e := range errs {
				texts = append(texts, e.Error())
			}
			all := strings.Join(texts, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("want %q in errors:\n%s", w, all)
				}
			}
		})
	}
}

func TestSuiteMissingFiles(t *testing.T) {
	res, err := RunSuiteFile(context.Background(), filepath.Join("testdata", "bad", "missing-suite.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "testdata/bad/no-such-template.yaml") {
		t.Fatalf("want one failure naming the missing template, got %+v", res)
	}
	if _, err := RunSuiteFile(context.Background(), "testdata/bad/none.yaml"); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("missing suite file: %v", err)
	}
	if _, err := ParseSuite("s.yaml", []byte("kind: Suite\ntests:\n- name: x\n  template: t.yaml\n  cases:\n  - name: c\n    object: o.yaml\n    assertions:\n    - violations: maybe\n")); err == nil || !strings.Contains(err.Error(), "s.yaml:9:") {
		t.Fatalf("bad violations value: %v", err)
	}
}

// TestSuiteYAML12: `violations: yes` is the string yes, not a boolean.
func TestSuiteYAML12(t *testing.T) {
	s, err := ParseSuite("s.yaml", []byte("kind: Suite\ntests:\n- name: x\n  template: t.yaml\n  cases:\n  - name: c\n    object: o.yaml\n    assertions:\n    - violations: yes\n    - violations: no\n      message: ^x\n    - {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := s.Tests[0].Cases[0].Assertions
	if a[0].Violations != "yes" || a[1].Violations != "no" || a[1].Message != "^x" || a[2].Violations != "yes" {
		t.Fatalf("assertions: %+v", a)
	}
}

// TestV1Template: a code source saying version v1 is parsed as Rego v1.
func TestV1Template(t *testing.T) {
	objs, errs := LoadFile("testdata/bad/v1-template.yaml")
	objs.Constraints = []*Constraint{{Kind: "K8sVersionOne", Name: "one"}}
	set, berrs := Build(objs)
	if errs != nil || berrs != nil {
		t.Fatal(errs, berrs)
	}
	got := evaluate(t, set, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n")
	if len(got) != 1 || got[0].Message != "v1 parsed" || got[0].Constraint != "one" || got[0].Engine != "gatekeeper" {
		t.Fatalf("findings: %+v", got)
	}
}

func evaluate(t *testing.T, set *Set, doc string) []finding.Finding {
	t.Helper()
	pols, mods, errs := set.Policies()
	if errs != nil {
		t.Fatal(errs)
	}
	eng, cerrs, err := engine.New(context.Background(), &policy.Set{Policies: pols, Modules: mods}, engine.WithFirstPass(set))
	if err != nil {
		t.Fatal(err, cerrs)
	}
	f := manifest.NewLoader().Parse("in.yaml", []byte(doc))
	var out []finding.Finding
	for _, r := range f.Resources {
		out = append(out, eng.Evaluate(context.Background(), r, engine.Call{})...)
	}
	return out
}

// TestSamePackageTwoTemplates: two templates with one package name and
// libs of one name stay apart, as in Gatekeeper.
func TestSamePackageTwoTemplates(t *testing.T) {
	tpl := func(kind, msg string) string {
		return `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: ` + strings.ToLower(kind) + `
spec:
  crd:
    spec:
      names:
        kind: ` + kind + `
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package shared
        import data.lib.helper.msg
        violation[{"msg": msg}] { true }
      libs:
        - |
          package lib.helper
          msg := "` + msg + `"
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: ` + kind + `
metadata:
  name: c-` + strings.ToLower(kind) + `
`
	}
	var objs Objects
	for _, k := range []struct{ kind, msg string }{{"KindA", "from a"}, {"KindB", "from b"}} {
		o, errs := Parse(k.kind+".yaml", []byte(tpl(k.kind, k.msg)))
		if errs != nil {
			t.Fatal(errs)
		}
		objs.Templates = append(objs.Templates, o.Templates...)
		objs.Constraints = append(objs.Constraints, o.Constraints...)
	}
	set, errs := Build(objs)
	if errs != nil {
		t.Fatal(errs)
	}
	got := evaluate(t, set, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n")
	msgs := map[string]string{}
	for _, f := range got {
		msgs[f.Constraint] = f.Message
	}
	if msgs["c-kinda"] != "from a" || msgs["c-kindb"] != "from b" || len(got) != 2 {
		t.Fatalf("findings: %+v", got)
	}
}

// TestAutorejectByMode: a namespaceSelector on an object whose Namespace
// is unknown is a violation (Gatekeeper's autoreject) in gator test mode,
// the CLI's; at the validation enforcement point (attest serve, which does
// not see the cluster's Namespaces) it does not match.
func TestAutorejectByMode(t *testing.T) {
	objs, errs := LoadPaths(context.Background(), "testdata/gatortest/autoreject/template.yaml", "testdata/gatortest/autoreject/constraints.yaml")
	if errs != nil {
		t.Fatal(errs)
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ghost\n"
	for _, tt := range []struct {
		point string
		want  int
	}{{PointGator, 2}, {PointValidation, 0}} {
		set, berrs := Build(objs, WithEnforcementPoint(tt.point))
		if berrs != nil {
			t.Fatal(berrs)
		}
		got := evaluate(t, set, pod)
		if len(got) != tt.want {
			t.Errorf("%s: want %d findings, got %+v", tt.point, tt.want, got)
		}
		for _, f := range got {
			if f.Rule != "k8shit/autoreject" || f.Policy != "k8shit" || !strings.HasPrefix(f.Message, "unable to match constraints: ") || f.Details["namespace"] != "ghost" {
				t.Errorf("%s: finding %+v", tt.point, f)
			}
		}
	}
}

// TestNoMetadata: an object, or an old object, without metadata is matched
// (as one with no name, labels or namespace), never a panic.
func TestNoMetadata(t *testing.T) {
	objs, errs := LoadPaths(context.Background(), "testdata/gatortest/nons/template.yaml", "testdata/gatortest/nons/constraints.yaml")
	if errs != nil {
		t.Fatal(errs)
	}
	set, berrs := Build(objs)
	if berrs != nil {
		t.Fatal(berrs)
	}
	// The template reads metadata.name, so no violation: only no panic.
	_ = evaluate(t, set, "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n")
	pols, mods, _ := set.Policies()
	eng, _, err := engine.New(context.Background(), &policy.Set{Policies: pols, Modules: mods})
	if err != nil {
		t.Fatal(err)
	}
	r := manifest.NewLoader().Parse("in.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")).Resources[0]
	old := ast.MustParseTerm(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": 1}`).Value
	if f := eng.Evaluate(context.Background(), r, engine.Call{Operation: "UPDATE", OldObject: old}); len(f) == 0 {
		t.Fatal("no findings on UPDATE")
	}
	old = ast.MustParseTerm(`{"apiVersion": "v1", "kind": "ConfigMap"}`).Value
	if f := eng.Evaluate(context.Background(), r, engine.Call{Operation: "UPDATE", OldObject: old}); len(f) == 0 {
		t.Fatal("no findings on UPDATE")
	}
}

// A folder named twice, relative and absolute (the project's policies/ and
// --policy), is read once: no template "defined twice".
func TestLoadPathsFolderNamedTwice(t *testing.T) {
	rel := "testdata/gatortest/autoreject"
	abs, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := LoadPaths(context.Background(), rel, abs, rel+"/")
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	once, _ := LoadPaths(context.Background(), rel)
	if len(objs.Templates) != len(once.Templates) || len(objs.Constraints) != len(once.Constraints) {
		t.Errorf("%d templates and %d constraints, want %d and %d", len(objs.Templates), len(objs.Constraints), len(once.Templates), len(once.Constraints))
	}
}
