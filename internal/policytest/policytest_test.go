package policytest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/continuums/attest/internal/attestation"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// load reads the .rego files under testdata/dirs, in a stable order.
func load(t *testing.T, dirs ...string) []Module {
	t.Helper()
	var mods []Module
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join("testdata", dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(p) != ".rego" {
				return err
			}
			b, err := os.ReadFile(p)
			mods = append(mods, Module{Path: filepath.ToSlash(p), Source: b})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return mods
}

func run(t *testing.T, opts Options, dirs ...string) *Result {
	t.Helper()
	res, err := Run(context.Background(), load(t, dirs...), opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func statuses(r *Result) map[string]string {
	m := map[string]string{}
	for _, t := range r.Tests {
		m[t.Name] = t.Status()
	}
	return m
}

func TestLibraryPasses(t *testing.T) {
	res := run(t, Options{Coverage: true}, "library")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	if s := res.Summary(); s.Total != 6 || s.Passed != 6 || !res.OK() {
		t.Fatalf("summary %+v: %v", s, statuses(res))
	}
	// The v0 module written as the spec writes it (`in` without import)
	// is compiled beside v1 modules and tested by a v1 test file.
	if st := statuses(res); st["test_missing_limits"] != "pass" {
		t.Fatalf("v0 module test: %v", st)
	}
	c := res.Coverage
	if c == nil || len(c.Files) != 2 {
		t.Fatalf("coverage: %+v", c)
	}
	// Test files are not counted.
	for _, f := range c.Files {
		if strings.HasSuffix(f.File, "_test.rego") {
			t.Errorf("test file in coverage: %s", f.File)
		}
	}
	if c.CoveredLines != 19 || c.NotCoveredLines != 5 {
		t.Errorf("covered %d, not covered %d; want 19 and 5", c.CoveredLines, c.NotCoveredLines)
	}
	if want := 100 * 19.0 / 24.0; c.Percent != want {
		t.Errorf("percent %v, want %v", c.Percent, want)
	}
	sec := c.Files[1]
	if sec.File != "testdata/library/policies/security.rego" || sec.Package != "attest.security" {
		t.Fatalf("file %+v", sec)
	}
	// host_network is never evaluated.
	if got := formatRanges(sec.Uncovered()); !strings.HasSuffix(got, "31-32") {
		t.Errorf("uncovered lines of security.rego: %s", got)
	}
	if !c.Below(80) || c.Below(79) || (*Coverage)(nil).Below(100) {
		t.Errorf("Below: percent %v", c.Percent)
	}
}

func TestFailingTests(t *testing.T) {
	res := run(t, Options{}, "failing")
	want := map[string]string{
		"test_eleven_is_too_many":       "pass",
		"test_ten_is_too_many":          "fail",
		"test_conflicting_modes":        "error",
		"todo_test_quota_per_namespace": "skip",
		"test_limits":                   "fail", // one of its cases fails
	}
	got := statuses(res)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	if res.OK() || res.Coverage != nil {
		t.Errorf("OK %v, coverage %v", res.OK(), res.Coverage)
	}
	for _, tr := range res.Tests {
		switch tr.Name {
		case "test_ten_is_too_many":
			if tr.Fail != `testdata/failing/quota_test.rego:13: quota.too_many with input as {"spec": {"replicas": 10}}` {
				t.Errorf("fail = %q", tr.Fail)
			}
			if tr.Output != "replicas: 10\n" || len(tr.Trace) == 0 || tr.Line != 11 || tr.File != "testdata/failing/quota_test.rego" {
				t.Errorf("result %+v", tr)
			}
		case "test_limits":
			if tr.Fail != "failed cases: nine" {
				t.Errorf("fail = %q", tr.Fail)
			}
		case "test_conflicting_modes":
			if !strings.Contains(tr.Err, "testdata/failing/quota.rego:10:1: eval_conflict_error") {
				t.Errorf("err = %q", tr.Err)
			}
		case "test_eleven_is_too_many":
			if len(tr.Trace) != 0 {
				t.Errorf("a passing test has a trace")
			}
		}
	}
}

func TestSyntaxError(t *testing.T) {
	res := run(t, Options{}, "syntax")
	if len(res.Tests) != 0 || len(res.Errors) == 0 {
		t.Fatalf("tests %v errors %v", res.Tests, res.Errors)
	}
	e := res.Errors[0]
	if e.Location.File != "testdata/syntax/broken.rego" || e.Location.Line != 7 || e.Location.Column == 0 || !strings.Contains(e.Message, "rego_parse_error") {
		t.Fatalf("error %+v", e)
	}
}

func TestCompileError(t *testing.T) {
	res := run(t, Options{}, "compile", "library")
	if len(res.Tests) != 0 || len(res.Errors) != 1 {
		t.Fatalf("tests %v errors %v", res.Tests, res.Errors)
	}
	if e := res.Errors[0]; e.Error() != "testdata/compile/undefined.rego:6:2: rego_type_error: undefined function not_a_function" {
		t.Fatalf("error %q", e.Error())
	}
}

func TestRunFilter(t *testing.T) {
	res := run(t, Options{Run: "security"}, "library")
	if len(res.Tests) != 4 {
		t.Errorf("--run security: %v", statuses(res))
	}
	res = run(t, Options{Run: PackageFilter("attest.deployment")}, "library")
	if len(res.Tests) != 2 || res.Tests[0].Package != "data.attest.deployment_test" {
		t.Errorf("package filter: %v", statuses(res))
	}
	res = run(t, Options{Run: PackageFilter("attest.nothing")}, "library")
	if len(res.Tests) != 0 {
		t.Errorf("package filter: %v", statuses(res))
	}
	if _, err := Run(context.Background(), load(t, "library"), Options{Run: "("}); err == nil {
		t.Error("bad --run accepted")
	}
}

type allVerified struct{}

func (allVerified) AttestationVerified(context.Context, string) (bool, error) { return true, nil }
func (allVerified) ReceiptVerified(context.Context, string, any) (bool, error) {
	return true, nil
}

func TestVerifier(t *testing.T) {
	// With a store that verifies everything, the test that expects an
	// unattested image to be denied fails: the built-in is really bound.
	res := run(t, Options{Verifier: allVerified{}, Run: "attest"}, "library")
	st := statuses(res)
	if st["test_unattested_image_denied_without_store"] != "fail" || st["test_attested_image_allowed_with_mock"] != "pass" {
		t.Fatalf("%v", st)
	}
	var _ attestation.Verifier = allVerified{}
}

func TestTimeout(t *testing.T) {
	res := run(t, Options{Timeout: 100 * time.Millisecond}, "slow")
	if len(res.Tests) != 1 || res.Tests[0].Status() != "error" {
		t.Fatalf("%+v", res.Tests)
	}
	if err := res.Tests[0].Err; !strings.Contains(err, "cancel") && !strings.Contains(err, "timed out") && !strings.Contains(err, "deadline") {
		t.Fatalf("err = %q", err)
	}
}

func TestDuplicateModule(t *testing.T) {
	mods := load(t, "library")
	res, err := Run(context.Background(), append(mods, mods[0]), Options{})
	if err != nil || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "given twice") {
		t.Fatalf("%v %v", res.Errors, err)
	}
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

// stable zeroes what changes from run to run.
func stable(r *Result) *Result {
	for i := range r.Tests {
		r.Tests[i].Duration = 0
	}
	return r
}

func TestGolden(t *testing.T) {
	lib := stable(run(t, Options{Coverage: true}, "library"))
	failing := stable(run(t, Options{}, "failing"))
	syntax := stable(run(t, Options{}, "syntax"))
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"library.txt", func(b *bytes.Buffer) error { return WriteText(b, lib, false) }},
		{"failing.txt", func(b *bytes.Buffer) error { return WriteText(b, failing, false) }},
		{"failing-verbose.txt", func(b *bytes.Buffer) error { return WriteText(b, failing, true) }},
		{"syntax.txt", func(b *bytes.Buffer) error { return WriteText(b, syntax, false) }},
		{"library.json", func(b *bytes.Buffer) error { return WriteJSON(b, lib) }},
		{"failing.json", func(b *bytes.Buffer) error { return WriteJSON(b, failing) }},
		{"library.junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, lib) }},
		{"failing.junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, failing) }},
		{"syntax.junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, syntax) }},
		{"library.lcov", func(b *bytes.Buffer) error { return WriteLCOV(b, lib.Coverage) }},
		{"library.cobertura.xml", func(b *bytes.Buffer) error { return WriteCobertura(b, lib.Coverage, "testdata/library") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestJSONParsesBack(t *testing.T) {
	res := run(t, Options{Coverage: true}, "library", "failing")
	var b bytes.Buffer
	if err := WriteJSON(&b, res); err != nil {
		t.Fatal(err)
	}
	var back jsonReport
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Version != JSONVersion || back.Passed || back.Summary.Total != 11 || back.Summary.Failed != 2 ||
		back.Summary.Errors != 1 || back.Summary.Skipped != 1 || back.Coverage == nil || len(back.Coverage.Files) != 3 {
		t.Fatalf("%+v", back)
	}
}

func TestJUnitParsesBack(t *testing.T) {
	res := run(t, Options{}, "library", "failing")
	var b bytes.Buffer
	if err := WriteJUnit(&b, res); err != nil {
		t.Fatal(err)
	}
	var back junitSuites
	if err := xml.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Tests != 11 || back.Failures != 2 || back.Errors != 1 || back.Skipped != 1 || len(back.Suites) != 3 {
		t.Fatalf("%+v", back)
	}
	seen := map[string]bool{}
	for _, s := range back.Suites {
		n := 0
		for _, c := range s.Cases {
			key := c.Classname + "/" + c.Name
			if seen[key] {
				t.Errorf("duplicate case %s", key)
			}
			seen[key] = true
			if c.File == "" || c.Line == 0 {
				t.Errorf("case without file: %+v", c)
			}
			n++
		}
		if n != s.Tests {
			t.Errorf("suite %s: %d cases, tests=%d", s.Name, n, s.Tests)
		}
	}
}

func TestLCOVParsesBack(t *testing.T) {
	res := run(t, Options{Coverage: true}, "library")
	var b bytes.Buffer
	if err := WriteLCOV(&b, res.Coverage); err != nil {
		t.Fatal(err)
	}
	type rec struct{ da, hit, lf, lh int }
	recs := map[string]*rec{}
	var cur *rec
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		key, val, _ := strings.Cut(line, ":")
		switch key {
		case "TN":
		case "SF":
			cur = &rec{}
			recs[val] = cur
		case "DA":
			n, h, ok := strings.Cut(val, ",")
			if _, err := strconv.Atoi(n); err != nil || !ok {
				t.Fatalf("bad DA %q", line)
			}
			hits, err := strconv.Atoi(h)
			if err != nil {
				t.Fatalf("bad DA %q", line)
			}
			cur.da++
			if hits > 0 {
				cur.hit++
			}
		case "LF":
			cur.lf, _ = strconv.Atoi(val)
		case "LH":
			cur.lh, _ = strconv.Atoi(val)
		case "end_of_record":
			cur = nil
		default:
			t.Fatalf("unexpected LCOV line %q", line)
		}
	}
	if len(recs) != 2 {
		t.Fatalf("records: %v", recs)
	}
	lf, lh := 0, 0
	for f, r := range recs {
		if r.da != r.lf || r.hit != r.lh {
			t.Errorf("%s: DA %d/%d but LF %d LH %d", f, r.hit, r.da, r.lf, r.lh)
		}
		lf += r.lf
		lh += r.lh
	}
	// No line of these files is both covered and not covered, so the line
	// counts are OPA's.
	if lf != res.Coverage.CoveredLines+res.Coverage.NotCoveredLines || lh != res.Coverage.CoveredLines {
		t.Errorf("LF %d LH %d vs %+v", lf, lh, res.Coverage)
	}
}

func TestCoberturaParsesBack(t *testing.T) {
	res := run(t, Options{Coverage: true}, "library")
	var b bytes.Buffer
	if err := WriteCobertura(&b, res.Coverage, "testdata"); err != nil {
		t.Fatal(err)
	}
	var back cobCoverage
	if err := xml.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Sources) != 1 || back.Sources[0] != "testdata" || len(back.Packages) != 2 {
		t.Fatalf("%+v", back)
	}
	covered, valid := 0, 0
	for _, p := range back.Packages {
		for _, c := range p.Classes {
			if !strings.HasPrefix(c.Filename, "library/policies/") {
				t.Errorf("filename %q not relative to the source", c.Filename)
			}
			if _, err := os.Stat(filepath.Join(back.Sources[0], c.Filename)); err != nil {
				t.Errorf("source + filename does not name the file: %v", err)
			}
			for _, l := range c.Lines {
				valid++
				if l.Hits > 0 {
					covered++
				}
			}
		}
	}
	if covered != back.LinesCovered || valid != back.LinesValid || covered != 19 || valid != 24 {
		t.Errorf("lines %d/%d, attributes %d/%d", covered, valid, back.LinesCovered, back.LinesValid)
	}
	if rate, _ := strconv.ParseFloat(back.LineRate, 64); rate < 0.79 || rate > 0.80 {
		t.Errorf("line-rate %s", back.LineRate)
	}
}
