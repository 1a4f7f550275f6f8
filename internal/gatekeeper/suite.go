package gatekeeper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/internal/safefile"
)

// Suite is a gator `kind: Suite` file.
type Suite struct {
	Path  string
	Tests []SuiteTest
}

// SuiteTest pairs a template with a constraint.
type SuiteTest struct {
	Name       string
	Template   string // resolved against the suite's folder
	Constraint string
	Invalid    bool // the constraint must be rejected
	Skip       bool
	Cases      []Case
	Line       int
}

// Case is one object under review.
type Case struct {
	Name       string
	Object     string
	Inventory  []string
	Skip       bool
	Assertions []Assertion
	Line       int
}

// Assertion expects a number of violations ("yes": at least one, "no":
// none), optionally only those whose message matches a regex.
type Assertion struct {
	Violations string // "yes", "no" or a count
	Message    string
	Line       int
}

// ParseSuite reads a Suite file as YAML 1.2, where `yes` and `no` are
// strings: gator reads `violations: yes` that way.
func ParseSuite(path string, data []byte) (s *Suite, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%s: internal error while parsing: %v", path, r)
		}
	}()
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty suite file", path)
		}
		return nil, fmt.Errorf("%s:%d: YAML: %v", path, yamlErrorLine(err), err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	at := func(n *yaml.Node, format string, args ...any) error {
		line := 0
		if n != nil {
			line = n.Line
		}
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	if k := scalar(child(root, "kind")); k != "Suite" {
		return nil, at(root, "not a Suite (kind %q)", k)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	boolean := func(n *yaml.Node) (bool, error) {
		if n == nil {
			return false, nil
		}
		b, err := strconv.ParseBool(scalar(n))
		if err != nil {
			return false, at(n, "want true or false, got %q", scalar(n))
		}
		return b, nil
	}
	s = &Suite{Path: path}
	tests := child(root, "tests")
	if tests != nil && tests.Kind != yaml.SequenceNode {
		return nil, at(tests, "tests must be a list")
	}
	if tests == nil {
		return s, nil
	}
	for _, tn := range tests.Content {
		t := SuiteTest{Name: scalar(child(tn, "name")), Template: rel(scalar(child(tn, "template"))),
			Constraint: rel(scalar(child(tn, "constraint"))), Line: tn.Line}
		if t.Invalid, err = boolean(child(tn, "invalid")); err != nil {
			return nil, err
		}
		if t.Skip, err = boolean(child(tn, "skip")); err != nil {
			return nil, err
		}
		if t.Template == "" {
			return nil, at(tn, "test %q has no template", t.Name)
		}
		for _, cn := range items(child(tn, "cases")) {
			c := Case{Name: scalar(child(cn, "name")), Object: rel(scalar(child(cn, "object"))), Line: cn.Line}
			if c.Skip, err = boolean(child(cn, "skip")); err != nil {
				return nil, err
			}
			for _, in := range items(child(cn, "inventory")) {
				c.Inventory = append(c.Inventory, rel(scalar(in)))
			}
			for _, an := range items(child(cn, "assertions")) {
				a := Assertion{Violations: scalar(child(an, "violations")), Message: scalar(child(an, "message")), Line: an.Line}
				if a.Violations == "" {
					a.Violations = "yes"
				}
				if _, err := a.want(); err != nil {
					return nil, at(an, "%v", err)
				}
				if a.Message != "" {
					if _, err := regexp.Compile(a.Message); err != nil {
						return nil, at(child(an, "message"), "message is not a regular expression: %v", err)
					}
				}
				c.Assertions = append(c.Assertions, a)
			}
			if c.Object == "" {
				return nil, at(cn, "case %q has no object", c.Name)
			}
			t.Cases = append(t.Cases, c)
		}
		s.Tests = append(s.Tests, t)
	}
	return s, nil
}

// want is the expected count: -1 for "at least one".
func (a Assertion) want() (int, error) {
	switch a.Violations {
	case "yes":
		return -1, nil
	case "no":
		return 0, nil
	}
	n, err := strconv.Atoi(a.Violations)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("violations must be yes, no or a count, got %q", a.Violations)
	}
	return n, nil
}

// CaseResult is the outcome of one case (or of a whole test when it
// failed before its cases ran).
type CaseResult struct {
	Suite, Test, Case string
	Skipped           bool
	Err               error // nil: passed
}

// RunSuite runs every test of a suite, through the same engine as
// `attest policy check`.
func RunSuite(ctx context.Context, s *Suite) []CaseResult {
	var out []CaseResult
	for _, t := range s.Tests {
		res := CaseResult{Suite: s.Path, Test: t.Name}
		if t.Skip {
			res.Skipped = true
			out = append(out, res)
			continue
		}
		r, err := newTestRun(ctx, t)
		if t.Invalid {
			// The constraint must be rejected (its parameters do not fit
			// the template's schema); cases are not run.
			if err == nil {
				res.Err = fmt.Errorf("%s:%d: test %s: constraint %s was accepted, but the test says it is invalid", s.Path, t.Line, t.Name, t.Constraint)
			} else if !errors.Is(err, errConstraintRejected) {
				res.Err = err
			}
			out = append(out, res)
			continue
		}
		if err != nil {
			res.Err = err
			out = append(out, res)
			continue
		}
		for _, c := range t.Cases {
			cr := CaseResult{Suite: s.Path, Test: t.Name, Case: c.Name, Skipped: c.Skip}
			if !c.Skip {
				cr.Err = r.runCase(ctx, c)
			}
			out = append(out, cr)
		}
	}
	return out
}

var errConstraintRejected = errors.New("constraint rejected")

type testRun struct {
	eng    *engine.Engine
	set    *Set
	loader *manifest.Loader
}

func newTestRun(ctx context.Context, t SuiteTest) (*testRun, error) {
	tobjs, errs := LoadFile(t.Template)
	if errs != nil {
		return nil, joinErrors(errs)
	}
	if len(tobjs.Templates) != 1 {
		return nil, fmt.Errorf("%s: want one ConstraintTemplate, found %d", t.Template, len(tobjs.Templates))
	}
	objs := Objects{Templates: tobjs.Templates}
	if t.Constraint != "" {
		// A constraint file that cannot be read or parsed fails the test,
		// invalid or not: gator verify's invalid tests want the constraint
		// read and then rejected by schema validation.
		cobjs, errs := LoadFile(t.Constraint)
		if errs != nil {
			return nil, joinErrors(errs)
		}
		if len(cobjs.Constraints) != 1 {
			return nil, fmt.Errorf("%s: want one constraint, found %d", t.Constraint, len(cobjs.Constraints))
		}
		objs.Constraints = cobjs.Constraints
		if tpl, c := objs.Templates[0], objs.Constraints[0]; t.Invalid && tpl.Kind == c.Kind {
			p := checkConstraint(tpl, c)
			switch {
			case p.rejectedBySchema():
				return nil, errConstraintRejected
			case len(p.all()) > 0:
				return nil, fmt.Errorf("test %s: constraint %s was rejected, but not by schema validation, which is what an invalid test wants (gator verify fails it too): %w", t.Name, t.Constraint, joinErrors(p.all()))
			}
		}
	}
	set, errs := Build(objs, withMode(modeVerify))
	if errs != nil {
		return nil, joinErrors(errs)
	}
	pols, mods, errs := set.Policies()
	if errs != nil {
		return nil, joinErrors(errs)
	}
	eng, errs2, err := engine.New(ctx, &policy.Set{Policies: pols, Modules: mods}, engine.WithEngineName(EngineName))
	if err != nil {
		return nil, errors.Join(err, joinErrors(errs2))
	}
	return &testRun{eng: eng, set: set, loader: manifest.NewLoader()}, nil
}

func joinErrors(errs []finding.Error) error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

func (r *testRun) runCase(ctx context.Context, c Case) error {
	// Each case has its own inventory; namespaces for namespaceSelector
	// come from it too.
	r.set.cluster.Reset()
	for _, inv := range c.Inventory {
		f := r.loader.LoadFile(ctx, inv)
		if f.Errors != nil {
			return joinErrors(f.Errors)
		}
		for _, o := range f.Resources {
			r.set.cluster.Observe(o)
		}
	}
	if err := r.eng.SetData(ctx, "inventory", r.set.cluster.Inventory()); err != nil {
		return err
	}
	res, call, err := r.readObject(ctx, c.Object)
	if err != nil {
		return err
	}
	var msgs []string
	for _, f := range r.eng.Evaluate(ctx, res, call) {
		if f.Kind == finding.KindError {
			return fmt.Errorf("%s: %s", c.Object, f.Message)
		}
		msgs = append(msgs, f.Message)
	}
	for _, a := range c.Assertions {
		want, _ := a.want()
		re, _ := regexp.Compile(a.Message)
		n := 0
		for _, m := range msgs {
			if re == nil || re.MatchString(m) {
				n++
			}
		}
		ok := want == n || want < 0 && n > 0
		if !ok {
			what := "violations"
			if a.Message != "" {
				what = fmt.Sprintf("violations matching %q", a.Message)
			}
			wantText := a.Violations
			if want < 0 {
				wantText = "at least 1"
			}
			return fmt.Errorf("assertion at line %d: want %s %s, got %d %q", a.Line, wantText, what, n, msgs)
		}
	}
	return nil
}

// readObject reads a case's object: a plain object, or an AdmissionReview
// whose request gives the object, the old object, the operation and the
// user. A DELETE reviews the old object, as Gatekeeper does.
func (r *testRun) readObject(ctx context.Context, path string) (*manifest.Resource, engine.Call, error) {
	f := r.loader.LoadFile(ctx, path)
	if f.Errors != nil {
		return nil, engine.Call{}, joinErrors(f.Errors)
	}
	if len(f.Resources) != 1 {
		return nil, engine.Call{}, fmt.Errorf("%s: want one object, found %d", path, len(f.Resources))
	}
	obj := f.Resources[0]
	if obj.Kind != "AdmissionReview" {
		return obj, engine.Call{}, nil
	}
	req, ok := get(obj.Value, ast.StringTerm("request")).(ast.Object)
	if !ok {
		return nil, engine.Call{}, fmt.Errorf("%s: AdmissionReview has no request", path)
	}
	call := engine.Call{Operation: stringAt(req, ast.StringTerm("operation"))}
	newObj, old := get(req, ast.StringTerm("object")), get(req, ast.StringTerm("oldObject"))
	if _, isNull := newObj.(ast.Null); isNull {
		newObj = nil
	}
	if _, isNull := old.(ast.Null); isNull {
		old = nil
	}
	if newObj == nil && call.Operation == "DELETE" {
		newObj = old
	}
	if newObj == nil {
		return nil, engine.Call{}, fmt.Errorf("%s: AdmissionReview has no request.object", path)
	}
	call.OldObject = old
	if u, ok := get(req, ast.StringTerm("userInfo")).(ast.Object); ok {
		if v, err := ast.JSON(u); err == nil {
			call.UserInfo, _ = v.(map[string]any)
		}
	}
	res := resourceFromValue(newObj, obj.Location)
	if res == nil {
		return nil, engine.Call{}, fmt.Errorf("%s: request.object is not a Kubernetes object", path)
	}
	// The review's namespace is the request's (input.review.namespace, and
	// the Namespace the matcher looks up), whatever the object says.
	res.Namespace = stringAt(req, keyNamespace)
	return res, call, nil
}

// resourceFromValue makes a resource of an object given as a value (an
// AdmissionReview's request.object). It has no YAML positions.
func resourceFromValue(v ast.Value, loc finding.Location) *manifest.Resource {
	o, ok := objectOfValue(v)
	if !ok {
		return nil
	}
	r := &manifest.Resource{Location: loc, Item: -1, APIVersion: stringAt(v, keyAPIVersion), Kind: o.Kind, Name: o.Name,
		Namespace: o.Namespace, Labels: o.Labels, Value: v}
	return r
}

// RunSuiteFile reads and runs one suite file.
func RunSuiteFile(ctx context.Context, path string) ([]CaseResult, error) {
	data, err := safefile.ReadFile(path, maxFile)
	if err != nil {
		return nil, fmt.Errorf("suite %s: %s", path, errText(err))
	}
	s, err := ParseSuite(path, data)
	if err != nil {
		return nil, err
	}
	return RunSuite(ctx, s), nil
}
