package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
)

// specSecurity is the spec's section 3 security policy, verbatim, plus the
// helper it calls.
const specSecurity = `package attest.security
# Deny privileged containers
violation[{"violated": true, "message": msg, "severity": "critical"}] {
input.resource.kind in ["Pod", "Deployment"]
container := get_containers[_]
container.securityContext.privileged == true
msg := sprintf("Privileged containers are not allowed: %v", [container.name])
}
`

const helpers = `package attest.security
import rego.v1
get_containers contains c if {
	some c in input.resource.spec.containers
}
get_containers contains c if {
	some c in input.resource.spec.template.spec.containers
}
`

const privilegedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: sidecar
          image: busybox:1.36
        - name: app
          image: registry.company.com/web:1.2
          securityContext:
            privileged: true
`

func load(t *testing.T, files map[string]string, extra ...func(*policy.Set)) *policy.Set {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	set, errs := policy.Load(context.Background(), policy.WithBuiltin(fsys))
	if len(errs) > 0 {
		t.Fatalf("load: %v", errs)
	}
	for _, fn := range extra {
		fn(set)
	}
	return set
}

func resource(t *testing.T, src string) *manifest.Resource {
	t.Helper()
	f := manifest.NewLoader().Parse("deploy.yaml", []byte(src))
	if len(f.Errors) > 0 || len(f.Resources) != 1 {
		t.Fatalf("parse: %v, %d resources", f.Errors, len(f.Resources))
	}
	return f.Resources[0]
}

func newEngine(t *testing.T, set *policy.Set, opts ...Option) *Engine {
	t.Helper()
	e, errs, err := New(context.Background(), set, opts...)
	if err != nil || len(errs) > 0 {
		t.Fatalf("New: %v %v", err, errs)
	}
	return e
}

func TestSpecRuleVerbatim(t *testing.T) {
	set := load(t, map[string]string{"security.rego": specSecurity, "helpers.rego": helpers})
	e := newEngine(t, set)
	fs := e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	if len(fs) != 1 {
		t.Fatalf("want 1 finding, got %d: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.Policy != "attest-security" || f.Rule != "attest-security/deny-privileged-containers" {
		t.Errorf("policy/rule = %s %s", f.Policy, f.Rule)
	}
	if f.Severity != finding.SeverityCritical || f.Kind != finding.KindViolation || f.Engine != "opa" {
		t.Errorf("severity/kind/engine = %s %s %s", f.Severity, f.Kind, f.Engine)
	}
	if f.Message != "Privileged containers are not allowed: app" {
		t.Errorf("message = %q", f.Message)
	}
	// The message names container "app": the finding points at it, not at
	// the object's first line.
	if f.Location.Line != 13 || f.Location.Field != "spec.template.spec.containers[1]" {
		t.Errorf("location = %+v", f.Location)
	}
	if f.Resource.String() != "Deployment/shop/web" {
		t.Errorf("resource = %s", f.Resource)
	}
}

func TestFieldLocationFromDetails(t *testing.T) {
	src := `package fields
import rego.v1
violation contains {"message": "replicas too low", "details": {"field": "spec.replicas"}} if input.resource.spec.replicas < 2
violation contains {"message": "pointer", "details": {"pointer": "/spec/template/spec/containers/0/image"}} if true
`
	e := newEngine(t, load(t, map[string]string{"f.rego": src}))
	fs := e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	got := map[string]finding.Location{}
	for _, f := range fs {
		got[f.Message] = f.Location
	}
	if l := got["replicas too low"]; l.Line != 7 || l.Column != 3 || l.Field != "spec.replicas" {
		t.Errorf("replicas location = %+v", l)
	}
	if l := got["pointer"]; l.Line != 12 || l.Field != "spec.template.spec.containers[0].image" {
		t.Errorf("pointer location = %+v", l)
	}
}

func TestConftestStyle(t *testing.T) {
	src := `package main
import rego.v1
deny contains msg if {
	input.kind == "Deployment"
	msg := sprintf("%s has %d replica", [input.metadata.name, input.spec.replicas])
}
deny_privileged contains {"msg": "privileged container", "details": {"container": "app"}} if {
	some c in input.spec.template.spec.containers
	c.securityContext.privileged
}
warn contains "a warning" if input.kind == "Deployment"
exception contains rules if {
	input.metadata.name == "web"
	rules := ["privileged"]
}
`
	set := load(t, map[string]string{"main.rego": src})
	if set.Policies[0].Style != policy.StyleConftest {
		t.Fatalf("style = %s", set.Policies[0].Style)
	}
	e := newEngine(t, set)
	fs := e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	byMsg := map[string]finding.Finding{}
	for _, f := range fs {
		byMsg[f.Message] = f
	}
	if len(fs) != 3 {
		t.Fatalf("want 3 findings, got %+v", fs)
	}
	if f := byMsg["web has 1 replica"]; f.Kind != finding.KindViolation || f.Exempted() {
		t.Errorf("deny: %+v", f)
	}
	if f := byMsg["privileged container"]; !f.Exempted() || f.Location.Line != 13 {
		t.Errorf("exception not applied or container not located: %+v", f)
	}
	if f := byMsg["a warning"]; f.Kind != finding.KindWarning {
		t.Errorf("warn: %+v", f)
	}
}

func TestGatekeeperShapeAndParameters(t *testing.T) {
	src := `package k8srequiredlabels
violation[{"msg": msg, "details": {"missing_labels": missing}}] {
  provided := {label | input.review.object.metadata.labels[label]}
  required := {label | label := input.parameters.labels[_]}
  missing := required - provided
  count(missing) > 0
  msg := sprintf("you must provide labels: %v", [missing])
}
`
	set := load(t, map[string]string{"gk.rego": src})
	set.Configure("k8srequiredlabels", policy.Settings{Parameters: map[string]any{"labels": []any{"owner"}}})
	e := newEngine(t, set)
	fs := e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "owner") {
		t.Fatalf("findings = %+v", fs)
	}
	if fs[0].Details["missing_labels"] == nil {
		t.Errorf("details lost: %+v", fs[0].Details)
	}
}

func TestParametersPerPolicy(t *testing.T) {
	a := `package a
import rego.v1
violation contains {"message": sprintf("a max=%v", [input.parameters.max])} if input.parameters.max
`
	b := `package b
import rego.v1
violation contains {"message": sprintf("b params=%v", [count(input.parameters)])} if true
`
	set := load(t, map[string]string{"a.rego": a, "b.rego": b})
	set.Configure("a", policy.Settings{Parameters: map[string]any{"max": 3}})
	e := newEngine(t, set)
	fs := e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	msgs := []string{}
	for _, f := range fs {
		msgs = append(msgs, f.Message)
	}
	want := "a max=3|b params=0"
	if got := strings.Join(sortStrings(msgs), "|"); got != want {
		t.Fatalf("messages = %s, want %s", got, want)
	}
}

// slowPolicy runs far longer than any test's timeout.
const slowPolicy = `package slow
import rego.v1
violation contains "impossible" if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i * j == -1
}
`

// goodPolicy fires on every Deployment: the other policies' failures must
// not stop it.
const goodPolicy = `package good
import rego.v1
violation contains "good fired" if input.resource.kind == "Deployment"
`

// conflictPolicy is package pkg with a rule that fails at evaluation on
// privilegedDeployment (two values for one complete rule).
func conflictPolicy(pkg string) string {
	return "package " + pkg + `
import rego.v1
x := 1 if input.resource.kind == "Deployment"
x := 2 if input.resource.metadata.name == "web"
violation contains "never" if x == 3
`
}

func TestErroringPolicyIsIsolated(t *testing.T) {
	bad := conflictPolicy("bad")
	e := newEngine(t, load(t, map[string]string{"bad.rego": bad, "good.rego": goodPolicy}))
	fs := e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	var sawErr, sawGood bool
	for _, f := range fs {
		if f.Kind == finding.KindError && f.Policy == "bad" {
			sawErr = true
		}
		if f.Message == "good fired" {
			sawGood = true
		}
	}
	if !sawErr || !sawGood {
		t.Fatalf("want an error finding for bad and good's finding, got %+v", fs)
	}
}

// TestPanickingPolicyIsIsolated: OPA's number comparison panics on a
// number it cannot parse (a value no JSON or YAML reader of attest makes
// now, but a caller of FromValue could). That fails the policy that
// compares it, as an error finding; the process, and the other policies,
// go on.
func TestPanickingPolicyIsIsolated(t *testing.T) {
	cmpReplicas := `package cmp
import rego.v1
violation contains "few replicas" if input.resource.spec.replicas < 2
`
	var panics []string
	e := newEngine(t, load(t, map[string]string{"cmp.rego": cmpReplicas, "good.rego": goodPolicy}),
		WithPanicHandler(func(v any, stack []byte) { panics = append(panics, fmt.Sprint(v)+"\n"+string(stack)) }))
	obj := ast.NewObject(
		[2]*ast.Term{ast.StringTerm("apiVersion"), ast.StringTerm("apps/v1")},
		[2]*ast.Term{ast.StringTerm("kind"), ast.StringTerm("Deployment")},
		[2]*ast.Term{ast.StringTerm("metadata"), ast.ObjectTerm([2]*ast.Term{ast.StringTerm("name"), ast.StringTerm("web")})},
		[2]*ast.Term{ast.StringTerm("spec"), ast.ObjectTerm([2]*ast.Term{ast.StringTerm("replicas"), ast.NumberTerm("1e1000000000")})},
	)
	fs := e.Evaluate(context.Background(), manifest.FromValue("review.json", obj), Call{})
	var sawErr, sawGood bool
	for _, f := range fs {
		if f.Kind == finding.KindError && f.Policy == "cmp" && strings.Contains(f.Message, "internal error") {
			sawErr = true
		}
		if f.Message == "good fired" {
			sawGood = true
		}
	}
	if !sawErr || !sawGood {
		t.Fatalf("want an error finding for cmp and good's finding, got %+v", fs)
	}
	if len(panics) == 0 || !strings.Contains(panics[0], "illegal value") || !strings.Contains(panics[0], "goroutine") {
		t.Fatalf("the panic handler was not told, with the stack: %q", panics)
	}
}

// TestRequestDeadlineNamedAsSuch: when the caller's deadline cuts the
// policy-by-policy evaluation short, the finding says so, not that the
// policy's own (longer) timeout ran out.
func TestRequestDeadlineNamedAsSuch(t *testing.T) {
	conflict := conflictPolicy("conflict")
	e := newEngine(t, load(t, map[string]string{"slow.rego": slowPolicy, "conflict.rego": conflict}), WithTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	fs := e.Evaluate(ctx, resource(t, privilegedDeployment), Call{})
	i := slices.IndexFunc(fs, func(f finding.Finding) bool {
		return f.Kind == finding.KindError && strings.Contains(f.Message, "deadline of the request")
	})
	if i < 0 || strings.Contains(fs[i].Message, "timed out after 1m") {
		t.Fatalf("findings %+v, want the request's deadline named", fs)
	}
}

func TestTimeout(t *testing.T) {
	e := newEngine(t, load(t, map[string]string{"slow.rego": slowPolicy, "good.rego": goodPolicy}), WithTimeout(50*time.Millisecond))
	fs := e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	var timedOut, sawGood bool
	for _, f := range fs {
		if f.Kind == finding.KindError && f.Policy == "slow" && strings.Contains(f.Message, "timed out") {
			timedOut = true
		}
		if f.Message == "good fired" {
			sawGood = true
		}
	}
	if !timedOut || !sawGood {
		t.Fatalf("want a timeout error for slow and good's finding, got %+v", fs)
	}
}

func TestRuleIDs(t *testing.T) {
	src := `package ids
# METADATA
# title: From metadata
# custom:
#   id: explicit-id
#   severity: low
violation[{"message": "a"}] { true }

# METADATA
# title: Title Only Here
violation[{"message": "b"}] { true }

violation[{"message": "c"}] { true }
violation[{"message": "d"}] { true }
`
	set := load(t, map[string]string{"ids.rego": src})
	var ids []string
	for _, r := range set.Policies[0].Rules {
		ids = append(ids, r.ID)
	}
	want := "ids/explicit-id|ids/title-only-here|ids/violation-1|ids/violation-2"
	if got := strings.Join(ids, "|"); got != want {
		t.Fatalf("ids = %s, want %s", got, want)
	}
	e := newEngine(t, set)
	for _, f := range e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{}) {
		if f.Message == "a" && f.Severity != finding.SeverityLow {
			t.Errorf("metadata severity not used: %s", f.Severity)
		}
		if f.Message == "c" && f.Severity != finding.DefaultSeverity {
			t.Errorf("default severity not used: %s", f.Severity)
		}
	}
}

func TestCompileErrorDropsOnlyThatPolicy(t *testing.T) {
	broken := `package broken
import rego.v1
violation contains "x" if undefined_function(input)
`
	set := load(t, map[string]string{"broken.rego": broken, "good.rego": goodPolicy})
	e, errs, err := New(context.Background(), set)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) == 0 || errs[0].Location.File != "library/broken.rego" || errs[0].Location.Line != 3 {
		t.Fatalf("compile errors = %+v", errs)
	}
	fs := e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	if len(fs) != 1 || fs[0].Message != "good fired" {
		t.Fatalf("findings = %+v", fs)
	}
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}

// Conftest packages are evaluated with the manifest as the input document
// and attest packages with attest's input, in two queries: an error in one
// group must not hide the other group's findings, and the findings keep
// policy order whichever group they come from.
func TestDirectAndWrappedGroups(t *testing.T) {
	conftestBad := `package main
x := 1 if input.kind == "Deployment"
x := 2 if input.metadata.name == "web"
deny contains "never" if x == 3
`
	conftestGood := `package main
deny contains msg if {
	input.kind == "Deployment"
	msg := sprintf("conftest sees %s", [input.metadata.name])
}
`
	attestBad := conflictPolicy("attest.bad")
	attestGood := `package attest.good
import rego.v1
violation contains msg if {
	input.resource.kind == "Deployment"
	input.context.mode == "cli"
	msg := sprintf("attest sees %s", [input.resource.metadata.name])
}
`
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // policy: message, or policy: ERROR, in order
	}{
		{"both good", map[string]string{"a.rego": attestGood, "c.rego": conftestGood},
			[]string{"attest-good: attest sees web", "main: conftest sees web"}},
		{"conftest errors", map[string]string{"a.rego": attestGood, "c.rego": conftestBad},
			[]string{"attest-good: attest sees web", "main: ERROR"}},
		{"attest errors", map[string]string{"a.rego": attestBad, "c.rego": conftestGood},
			[]string{"attest-bad: ERROR", "main: conftest sees web"}},
		{"only conftest", map[string]string{"c.rego": conftestGood},
			[]string{"main: conftest sees web"}},
		{"only attest", map[string]string{"a.rego": attestGood},
			[]string{"attest-good: attest sees web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, load(t, tc.files))
			var got []string
			for _, f := range e.Evaluate(context.Background(), resource(t, privilegedDeployment), Call{}) {
				if f.Kind == finding.KindError {
					got = append(got, f.Policy+": ERROR")
					continue
				}
				got = append(got, f.Policy+": "+f.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// conftest's _loc says where the problem is: it wins over attest's own
// guess from the message (which names the container's image here).
func TestConftestLocWins(t *testing.T) {
	src := `package main
deny contains {"msg": msg, "_loc": {"file": "deploy.yaml", "line": 99}} if {
	some c in input.spec.template.spec.containers
	msg := sprintf("latest tag in %s", [c.image])
}
deny contains {"msg": msg} if {
	some c in input.spec.template.spec.containers
	msg := sprintf("guessed %s", [c.image])
}
`
	e := newEngine(t, load(t, map[string]string{"main.rego": src}))
	r := resource(t, privilegedDeployment)
	r.Location.File = "deploy.yaml"
	var loc, guessed finding.Location
	for _, f := range e.Evaluate(context.Background(), r, Call{}) {
		switch {
		case strings.HasPrefix(f.Message, "latest tag"):
			loc = f.Location
		case strings.HasPrefix(f.Message, "guessed"):
			guessed = f.Location
		}
	}
	if loc.File != "deploy.yaml" || loc.Line != 99 || loc.Column != 0 {
		t.Errorf("_loc finding at %+v, want deploy.yaml:99", loc)
	}
	if guessed.Line <= 1 || guessed.Field == "" {
		t.Errorf("finding without _loc at %+v, want the image's own line", guessed)
	}
}

// A compile error in a result rule is reported once, under the rule's own
// name: never again for attest's collector copy of it.
func TestCompileErrorReportedOnce(t *testing.T) {
	set := load(t, map[string]string{"unsafe.rego": "package unsafe\n\nviolation[{\"msg\": msg}] {\n  input.resource.kind == \"Pod\"\n}\n",
		"good.rego": "package good\nimport rego.v1\nviolation contains \"good\" if input.resource.kind == \"Deployment\"\n"})
	_, errs, err := New(context.Background(), set)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 {
		t.Fatalf("want one error, got %d: %v", len(errs), errs)
	}
	if strings.Contains(errs[0].Message, collectRule) || !strings.Contains(errs[0].Message, "var msg is unsafe in rule violation") {
		t.Fatalf("error: %s", errs[0].Message)
	}
}

// TestInstanceMatchError: an instance whose match cannot be decided is not
// evaluated and gives its policy an error finding naming the instance; the
// policy's other instances still report, and the match gets the
// evaluation's context.
func TestInstanceMatchError(t *testing.T) {
	src := `package k8shit
violation[{"msg": msg}] {
  msg := sprintf("hit %v", [input.parameters.n])
}
`
	type key struct{}
	set := load(t, map[string]string{"gk.rego": src})
	for _, p := range set.Policies {
		if p.Name != "k8shit" {
			continue
		}
		p.Style = policy.StyleGatekeeper
		p.Instances = []policy.Instance{
			{Name: "fails", Parameters: map[string]any{"n": 1}, Match: func(ctx context.Context, _ *manifest.Resource, _ ast.Value) (bool, error) {
				if ctx.Value(key{}) != "the call's" {
					return false, errors.New("match without the evaluation's context")
				}
				return true, errors.New("the Namespace cannot be read")
			}},
			{Name: "matches", Parameters: map[string]any{"n": 2}, Match: func(context.Context, *manifest.Resource, ast.Value) (bool, error) {
				return true, nil
			}},
		}
	}
	e := newEngine(t, set)
	ctx := context.WithValue(context.Background(), key{}, "the call's")
	fs := e.Evaluate(ctx, resource(t, privilegedDeployment), Call{})
	if len(fs) != 2 {
		t.Fatalf("want the error of fails and the finding of matches, got %+v", fs)
	}
	slices.SortFunc(fs, func(a, b finding.Finding) int { return strings.Compare(a.Constraint, b.Constraint) })
	if f := fs[0]; f.Kind != finding.KindError || f.Constraint != "fails" || f.Policy != "k8shit" ||
		f.Message != "policy evaluation failed: the Namespace cannot be read" {
		t.Errorf("error finding = %+v", f)
	}
	if f := fs[1]; f.Kind == finding.KindError || f.Constraint != "matches" || f.Message != "hit 2" {
		t.Errorf("finding = %+v", f)
	}
}

// TestBundleData: the base document of the policy set (bundles' data
// files) is what data.* reads in every policy.
func TestBundleData(t *testing.T) {
	set := load(t, map[string]string{"registries.rego": `package registries
import rego.v1
violation contains msg if {
	some c in input.resource.spec.template.spec.containers
	not startswith(c.image, data.acme.allowed_registry)
	msg := sprintf("%s is not from %s", [c.image, data.acme.allowed_registry])
}
`})
	set.Data = map[string]any{"acme": map[string]any{"allowed_registry": "registry.company.com/"}}
	fs := newEngine(t, set).Evaluate(context.Background(), resource(t, privilegedDeployment), Call{})
	if len(fs) != 1 || fs[0].Message != "busybox:1.36 is not from registry.company.com/" {
		t.Fatalf("findings %+v, want the busybox image alone", fs)
	}
}

// TestOldObjectInContext: on UPDATE an attest policy sees the object as it
// was under input.context.oldObject, as docs/serve.md says (it saw only
// the operation, so an immutability check written from the docs never
// fired).
func TestOldObjectInContext(t *testing.T) {
	e := newEngine(t, load(t, map[string]string{"immutable.rego": `package immutable
import rego.v1
violation contains msg if {
	input.context.operation == "UPDATE"
	old := input.context.oldObject.spec.template.spec.containers[0].image
	new := input.resource.spec.template.spec.containers[0].image
	old != new
	msg := sprintf("image changed from %s to %s", [old, new])
}
`}))
	r := resource(t, privilegedDeployment)
	old := resource(t, strings.Replace(privilegedDeployment, "busybox:1.36", "busybox:1.35", 1))
	fs := e.Evaluate(context.Background(), r, Call{Operation: "UPDATE", OldObject: old.Value})
	if len(fs) != 1 || fs[0].Message != "image changed from busybox:1.35 to busybox:1.36" {
		t.Fatalf("findings %+v", fs)
	}
	if fs := e.Evaluate(context.Background(), r, Call{Operation: "UPDATE"}); len(fs) != 0 {
		t.Fatalf("without an old object: %+v", fs)
	}
}

// TestBundleDataWhereARuleIs: data at a path a rule defines is an error,
// as OPA's bundle loading makes it; data beside rules is not.
func TestBundleDataWhereARuleIs(t *testing.T) {
	set := load(t, map[string]string{"labels.rego": `package company.labels
import rego.v1
deny contains "x" if input.resource.kind == "Secret"
`})
	set.Data = map[string]any{"company": map[string]any{"labels": map[string]any{"deny": []any{}, "required": []any{"team"}}}}
	_, errs, err := New(context.Background(), set)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "bundle data data.company.labels.deny is also a rule") || errs[0].Location.Line != 3 {
		t.Fatalf("errors %+v", errs)
	}
	set.Data = map[string]any{"company": map[string]any{"labels": map[string]any{"required": []any{"team"}}}}
	if _, errs, _ := New(context.Background(), set); len(errs) != 0 {
		t.Fatalf("data beside rules: %+v", errs)
	}
}
