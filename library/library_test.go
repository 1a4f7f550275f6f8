package library_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/continuums/attest/internal/attestation"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/library"
)

// loadModules parses every .rego file of fsys as the engine does.
func loadModules(t testing.TB, fsys fs.FS) map[string]*ast.Module {
	t.Helper()
	mods := map[string]*ast.Module{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		m, err := policy.ParseModule(p, src)
		if err != nil {
			return err
		}
		mods[p] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) == 0 {
		t.Fatal("no Rego files embedded")
	}
	return mods
}

func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = append(caps.Builtins, attestation.Declarations()...)
	return caps
}

func TestCompileTogether(t *testing.T) {
	mods := loadModules(t, library.FS())
	c := ast.NewCompiler().WithCapabilities(capabilities())
	c.Compile(mods)
	if c.Failed() {
		for _, l := range policy.ErrorLocations(c.Errors) {
			t.Error(l)
		}
	}
}

func TestEveryRuleFileHasTests(t *testing.T) {
	mods := loadModules(t, library.FS())
	for p, m := range mods {
		if strings.HasSuffix(p, "_test.rego") || !slices.ContainsFunc(m.Rules, library.IsResultRule) {
			continue
		}
		tp := strings.TrimSuffix(p, ".rego") + "_test.rego"
		if _, ok := mods[tp]; !ok {
			t.Errorf("%s: no %s", p, tp)
		}
	}
}

func TestRegoTests(t *testing.T) {
	mods := loadModules(t, library.FS())
	ctx := context.Background()
	store := inmem.New()
	txn := storage.NewTransactionOrDie(ctx, store)
	defer store.Abort(ctx, txn)
	ch, err := tester.NewRunner().
		SetStore(store).
		SetModules(mods).
		AddCustomBuiltins(attestation.TesterBuiltins(attestation.NoStore{})).
		RaiseBuiltinErrors(true).
		CapturePrintOutput(true).
		RunTests(ctx, txn)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		name := r.Package + "." + r.Name
		switch {
		case r.Error != nil:
			t.Errorf("%s (%s): error: %v", name, r.Location, r.Error)
		case r.Fail:
			msg := fmt.Sprintf("%s (%s): FAIL", name, r.Location)
			for path, sr := range r.SubResults.Iter {
				if sr.Fail && len(sr.SubResults) == 0 {
					msg += fmt.Sprintf("\n    case %q failed", strings.Join(path, "/"))
				}
			}
			if len(r.Output) > 0 {
				msg += "\n" + string(r.Output)
			}
			t.Error(msg)
		case r.Skip:
			t.Errorf("%s: skipped (todo_ tests are not allowed in the library)", name)
		}
	}
	if n == 0 {
		t.Fatal("no Rego tests ran")
	}
	t.Logf("%d Rego tests", n)
}

// allowedSeverities are the words attest understands.
var allowedSeverities = []string{"low", "medium", "high", "critical"}

func TestRuleMetadata(t *testing.T) {
	mods := loadModules(t, library.FS())
	pols, err := library.Describe(library.FS())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range pols {
		if p.Title == "" || p.Description == "" {
			t.Errorf("policy %s (%s): package METADATA needs title and description", p.Name, p.Package)
		}
		ids := map[string]bool{}
		for _, r := range p.Rules {
			total++
			where := fmt.Sprintf("%s:%d (%s)", r.File, r.Line, p.Name)
			if r.ID == "" {
				t.Errorf("%s: custom.id missing", where)
			} else if ids[r.ID] {
				t.Errorf("%s: custom.id %q used twice in the policy", where, r.ID)
			}
			ids[r.ID] = true
			if r.ID != strings.ToLower(r.ID) || strings.ContainsAny(r.ID, " _/.") {
				t.Errorf("%s: custom.id %q is not kebab-case", where, r.ID)
			}
			if r.Title == "" || r.Description == "" || r.Remediation == "" {
				t.Errorf("%s: title, description and custom.remediation are required", where)
			}
			if !slices.Contains(allowedSeverities, r.Severity) {
				t.Errorf("%s: custom.severity %q not in %v", where, r.Severity, allowedSeverities)
			}
			if len(r.Kinds) == 0 {
				t.Errorf("%s: custom.kinds missing", where)
			}
			if len(r.Controls) == 0 {
				t.Errorf("%s: custom.controls missing", where)
			}
			for _, c := range r.Controls {
				if !strings.Contains(c, ":") {
					t.Errorf("%s: control %q should read FRAMEWORK:CONTROL", where, c)
				}
			}
		}
	}
	// Every result rule body in the library must have been described.
	bodies := 0
	for p, m := range mods {
		if strings.HasSuffix(p, "_test.rego") {
			continue
		}
		for _, r := range m.Rules {
			if library.IsResultRule(r) {
				bodies++
			}
		}
	}
	if bodies != total {
		t.Errorf("%d result rule bodies but %d described rules", bodies, total)
	}
	if total < 30 {
		t.Errorf("only %d rules", total)
	}
	names := make([]string, 0, len(pols))
	for _, p := range pols {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	t.Logf("%d rules in policies %v", total, names)
}
