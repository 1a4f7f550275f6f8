// Package policytest runs the Rego unit tests of policies (the test_ rules,
// as `opa test` does) with OPA's own test runner, with the attestation
// built-ins bound, and measures coverage. It is what `attest policy
// test-all` and `attest policy test NAME` run; the writers turn a Result
// into text, JSON, JUnit, LCOV and Cobertura.
package policytest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/continuums/attest/internal/attestation"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/policy"
)

// Module is one Rego file: policies and tests are given together.
type Module struct {
	Path   string
	Source []byte
}

// Options control a run.
type Options struct {
	// Run is a regular expression on test names ("data.pkg.test_name"),
	// as `opa test -r` takes it. Empty runs every test. PackageFilter
	// builds one for `attest policy test NAME`.
	Run string
	// Coverage measures which lines of the non-test modules the tests
	// evaluated.
	Coverage bool
	// Timeout bounds each test (default 5s, as opa test).
	Timeout time.Duration
	// Verifier answers the attestation built-ins (default NoStore: nothing
	// is verified). Tests can still mock them with `with`.
	Verifier attestation.Verifier
	// Parallel is how many tests run at once (default: the number of CPUs).
	Parallel int
	// MaxTraceLines caps the trace kept for each failing test (default 200).
	MaxTraceLines int
}

// DefaultTimeout is the per-test timeout when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Result is what a run produced, tests in file and line order.
type Result struct {
	Tests    []TestResult
	Coverage *Coverage // nil unless Options.Coverage
	// Errors are modules that did not parse or compile, with file, line
	// and column. When there are any, no test ran.
	Errors []finding.Error
}

// TestResult is one test rule's outcome.
type TestResult struct {
	Package string // "data.attest.security_test"
	Name    string // "test_privileged_container_denied"
	File    string
	Line    int
	Pass    bool
	Skip    bool // a todo_test_ rule
	// Fail says where a failing test stopped: "file:line: expression".
	Fail string
	// Err is an evaluation error (conflict, timeout, halting built-in).
	Err      string
	Output   string // what print() wrote
	Duration time.Duration
	// Trace is the evaluation trace of a failing or erroring test, one
	// line per event, for -v.
	Trace []string
}

// FullName is the name Run matches: data.pkg.test_name.
func (t TestResult) FullName() string { return t.Package + "." + t.Name }

// Status is one of pass, fail, error, skip.
func (t TestResult) Status() string {
	switch {
	case t.Skip:
		return "skip"
	case t.Err != "":
		return "error"
	case t.Pass:
		return "pass"
	}
	return "fail"
}

// Summary counts the tests by status.
type Summary struct {
	Total, Passed, Failed, Errors, Skipped int
}

// Summary counts the results.
func (r *Result) Summary() Summary {
	var s Summary
	for _, t := range r.Tests {
		s.Total++
		switch t.Status() {
		case "pass":
			s.Passed++
		case "fail":
			s.Failed++
		case "error":
			s.Errors++
		case "skip":
			s.Skipped++
		}
	}
	return s
}

// OK reports whether nothing failed: no error, no failing or erroring
// test. Coverage thresholds are checked separately (Coverage.Below).
func (r *Result) OK() bool {
	s := r.Summary()
	return len(r.Errors) == 0 && s.Failed == 0 && s.Errors == 0
}

// PackageFilter returns a Run expression selecting the tests of the given
// Rego packages ("attest.security"): tests in the package itself, in
// packages below it, and in its conventional test packages
// ("attest.security_test", "attest.security.test").
func PackageFilter(pkgs ...string) string {
	alts := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		p = strings.TrimPrefix(p, "data.")
		alts = append(alts, regexp.QuoteMeta("data."+p)+`(_test)?\.`)
	}
	return "^(" + strings.Join(alts, "|") + ")"
}

// Run parses and compiles every module together (Rego v0 and v1 side by
// side), runs the test rules and, when asked, measures coverage. Bad
// modules are returned as Result.Errors; the error return is for a bad
// Run expression or a cancelled context.
func Run(ctx context.Context, modules []Module, opts Options) (*Result, error) {
	if opts.Run != "" {
		if _, err := regexp.Compile(opts.Run); err != nil {
			return nil, fmt.Errorf("--run: %w", err)
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Verifier == nil {
		opts.Verifier = attestation.NoStore{}
	}
	if opts.MaxTraceLines <= 0 {
		opts.MaxTraceLines = 200
	}
	res := &Result{}
	parsed := make(map[string]*ast.Module, len(modules))
	for _, m := range modules {
		if _, dup := parsed[m.Path]; dup {
			res.Errors = append(res.Errors, finding.Error{Location: finding.Location{File: m.Path}, Message: "module given twice"})
			continue
		}
		pm, err := policy.ParseModule(m.Path, m.Source)
		if err != nil {
			res.Errors = append(res.Errors, policy.RegoErrors(m.Path, err)...)
			continue
		}
		parsed[m.Path] = pm
	}
	if len(res.Errors) > 0 {
		sortErrors(res.Errors)
		return res, nil
	}

	var cov *cover.Cover
	if opts.Coverage {
		cov = cover.New()
	}
	results, err := runTests(ctx, parsed, opts, opts.Run, cov, false)
	if err != nil {
		var aerrs ast.Errors
		if errors.As(err, &aerrs) {
			res.Errors = policy.RegoErrors("", err)
			sortErrors(res.Errors)
			return res, nil
		}
		return nil, err
	}
	for _, tr := range results {
		res.Tests = append(res.Tests, convert(tr))
	}
	sortTests(res.Tests)

	// Failing tests run again, alone and traced, to say where they failed:
	// tracing every test would cost every run, and traces and coverage do
	// not mix.
	var failed []string
	for _, t := range res.Tests {
		if s := t.Status(); s == "fail" || s == "error" {
			failed = append(failed, regexp.QuoteMeta(t.FullName()))
		}
	}
	if len(failed) > 0 {
		traced, err := runTests(ctx, parsed, opts, "^("+strings.Join(failed, "|")+")$", nil, true)
		if err != nil {
			return nil, err
		}
		byName := map[string]*tester.Result{}
		for _, tr := range traced {
			byName[tr.Package+"."+tr.Name] = tr
		}
		for i := range res.Tests {
			t := &res.Tests[i]
			tr, ok := byName[t.FullName()]
			if !ok || t.Pass || t.Skip {
				continue
			}
			if t.Err == "" && t.Fail == "" {
				t.Fail = failureLine(tr.Trace)
			}
			t.Trace = traceLines(tr.Trace, opts.MaxTraceLines)
		}
	}

	if cov != nil {
		res.Coverage = coverage(cov.Report(parsed), parsed)
	}
	return res, ctx.Err()
}

// runTests compiles the modules in a fresh compiler and runs the tests
// matching filter.
func runTests(ctx context.Context, parsed map[string]*ast.Module, opts Options, filter string, cov *cover.Cover, trace bool) ([]*tester.Result, error) {
	builtins := attestation.TesterBuiltins(opts.Verifier)
	caps := ast.CapabilitiesForThisVersion()
	for _, b := range builtins {
		caps.Builtins = append(caps.Builtins, b.Decl)
	}
	compiler := ast.NewCompiler().
		WithCapabilities(caps).
		WithEnablePrintStatements(true)
	store := inmem.New()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)

	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(parsed).
		AddCustomBuiltins(builtins).
		CapturePrintOutput(true).
		EnableTracing(trace).
		SetTimeout(opts.Timeout).
		SetParallel(opts.Parallel).
		Filter(filter)
	if cov != nil {
		runner = runner.SetCoverageQueryTracer(cov)
	}
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return nil, err
	}
	var out []*tester.Result
	for tr := range ch {
		out = append(out, tr)
	}
	return out, nil
}

func convert(tr *tester.Result) TestResult {
	t := TestResult{
		Package:  tr.Package,
		Name:     tr.Name,
		Skip:     tr.Skip,
		Duration: tr.Duration,
		Output:   string(tr.Output),
	}
	if tr.Location != nil {
		t.File, t.Line = tr.Location.File, tr.Location.Row
	}
	switch {
	case tr.Skip:
	case tr.Error != nil:
		t.Err = errorText(tr.Error)
	case tr.Fail:
		if len(tr.SubResults) > 0 {
			var failed []string
			for name, sr := range tr.SubResults.Iter {
				if sr.Fail && len(sr.SubResults) == 0 {
					failed = append(failed, strings.Join(name, "/"))
				}
			}
			slices.Sort(failed)
			t.Fail = "failed cases: " + strings.Join(failed, ", ")
		}
	default:
		t.Pass = true
	}
	return t
}

// errorText gives an evaluation error with its location, without the
// stack trace topdown adds.
func errorText(err error) string {
	var te *topdown.Error
	if errors.As(err, &te) {
		msg := te.Code + ": " + te.Message
		if te.Location != nil {
			msg = fmt.Sprintf("%s:%d:%d: %s", te.Location.File, te.Location.Row, te.Location.Col, msg)
		}
		return msg
	}
	return err.Error()
}

// failureLine finds the expression where a failing test stopped, as `opa
// test --var-values` shows it: the last failed expression of a query
// that is not the test query itself.
func failureLine(trace []*topdown.Event) string {
	for _, e := range slices.Backward(trace) {
		if e.Op != topdown.FailOp || e.Location == nil || e.QueryID == 0 {
			continue
		}
		expr, ok := e.Node.(*ast.Expr)
		if !ok {
			continue
		}
		if _, isEvery := expr.Terms.(*ast.Every); isEvery {
			continue
		}
		text := strings.TrimSpace(string(e.Location.Text))
		if text == "" {
			text = expr.String()
		}
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[:i] + " ..."
		}
		return fmt.Sprintf("%s:%d: %s", e.Location.File, e.Location.Row, text)
	}
	return ""
}

func traceLines(trace []*topdown.Event, max int) []string {
	if len(trace) == 0 {
		return nil
	}
	var buf bytes.Buffer
	topdown.PrettyTraceWithOpts(&buf, trace, topdown.PrettyTraceOptions{Locations: true})
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) > max {
		n := len(lines) - max
		lines = append(lines[:max:max], fmt.Sprintf("... %d more lines", n))
	}
	return lines
}

func sortErrors(errs []finding.Error) {
	slices.SortStableFunc(errs, func(a, b finding.Error) int {
		return cmp.Or(cmp.Compare(a.Location.File, b.Location.File), cmp.Compare(a.Location.Line, b.Location.Line),
			cmp.Compare(a.Location.Column, b.Location.Column), cmp.Compare(a.Message, b.Message))
	})
}

func sortTests(ts []TestResult) {
	slices.SortStableFunc(ts, func(a, b TestResult) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.FullName(), b.FullName()))
	})
}
