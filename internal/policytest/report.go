package policytest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// WriteText writes one line per test (PASS, FAIL, ERROR, SKIP), where each
// failure stopped, the errors of modules that did not compile, a summary
// ("PASS: 40/42") and, with coverage, the percentage and the lines no test
// reached. verbose adds print() output and the trace of each failing test.
func WriteText(w io.Writer, r *Result, verbose bool) error {
	ew := &errWriter{w: w}
	for _, e := range r.Errors {
		ew.printf("ERROR %s\n", e.Error())
	}
	for _, t := range r.Tests {
		ew.printf("%-5s %s (%s:%d)\n", strings.ToUpper(t.Status()), t.FullName(), t.File, t.Line)
		if t.Fail != "" {
			ew.printf("      %s\n", t.Fail)
		}
		if t.Err != "" {
			ew.printf("      %s\n", indent(t.Err, "      "))
		}
		if verbose {
			if t.Output != "" {
				ew.printf("      output:\n        %s\n", indent(strings.TrimRight(t.Output, "\n"), "        "))
			}
			if len(t.Trace) > 0 {
				ew.printf("      trace:\n")
				for _, l := range t.Trace {
					ew.printf("        %s\n", l)
				}
			}
		}
	}
	s := r.Summary()
	if len(r.Tests) > 0 || len(r.Errors) == 0 {
		ew.printf("%s\n", strings.Repeat("-", 72))
	}
	ew.printf("%s: %d/%d", verdict(r), s.Passed, s.Total-s.Skipped)
	var parts []string
	for _, p := range []struct {
		n    int
		word string
	}{{s.Failed, "failed"}, {s.Errors, "errors"}, {s.Skipped, "skipped"}, {len(r.Errors), "compile errors"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.word))
		}
	}
	if len(parts) > 0 {
		ew.printf(" (%s)", strings.Join(parts, ", "))
	}
	ew.printf("\n")
	if c := r.Coverage; c != nil {
		ew.printf("Coverage: %.2f%% (%d of %d lines)\n", c.Percent, c.CoveredLines, c.CoveredLines+c.NotCoveredLines)
		for _, f := range c.Files {
			un := f.Uncovered()
			if len(un) == 0 {
				ew.printf("  %s: %.2f%%\n", f.File, f.Percent)
				continue
			}
			ew.printf("  %s: %.2f%%, not covered: %s\n", f.File, f.Percent, formatRanges(un))
		}
	}
	return ew.err
}

func verdict(r *Result) string {
	if r.OK() {
		return "PASS"
	}
	return "FAIL"
}

func formatRanges(rs []LineRange) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		if r.Start == r.End {
			s[i] = strconv.Itoa(r.Start)
		} else {
			s[i] = fmt.Sprintf("%d-%d", r.Start, r.End)
		}
	}
	return strings.Join(s, ", ")
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// JSONVersion is the version of the JSON report's schema.
const JSONVersion = 1

type jsonReport struct {
	Version  int           `json:"version"`
	Passed   bool          `json:"passed"`
	Summary  jsonSummary   `json:"summary"`
	Tests    []jsonTest    `json:"tests"`
	Errors   []jsonError   `json:"errors,omitempty"`
	Coverage *jsonCoverage `json:"coverage,omitempty"`
}

type jsonSummary struct {
	Total   int `json:"total"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Errors  int `json:"errors"`
	Skipped int `json:"skipped"`
}

type jsonTest struct {
	Package    string   `json:"package"`
	Name       string   `json:"name"`
	File       string   `json:"file"`
	Line       int      `json:"line"`
	Status     string   `json:"status"`
	Failure    string   `json:"failure,omitempty"`
	Error      string   `json:"error,omitempty"`
	Output     string   `json:"output,omitempty"`
	DurationMS float64  `json:"duration_ms"`
	Trace      []string `json:"trace,omitempty"`
}

type jsonError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

type jsonCoverage struct {
	Percent         float64    `json:"percent"`
	CoveredLines    int        `json:"covered_lines"`
	NotCoveredLines int        `json:"not_covered_lines"`
	Files           []jsonFile `json:"files"`
}

type jsonFile struct {
	File            string      `json:"file"`
	Package         string      `json:"package"`
	Percent         float64     `json:"percent"`
	CoveredLines    int         `json:"covered_lines"`
	NotCoveredLines int         `json:"not_covered_lines"`
	Covered         []LineRange `json:"covered"`
	NotCovered      []LineRange `json:"not_covered"`
}

// MarshalJSON writes a range as [start, end].
func (r LineRange) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]int{r.Start, r.End})
}

// UnmarshalJSON reads [start, end].
func (r *LineRange) UnmarshalJSON(b []byte) error {
	var a [2]int
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	r.Start, r.End = a[0], a[1]
	return nil
}

// WriteJSON writes the versioned JSON report (docs/testing.md documents
// it).
func WriteJSON(w io.Writer, r *Result) error {
	s := r.Summary()
	rep := jsonReport{
		Version: JSONVersion,
		Passed:  r.OK(),
		Summary: jsonSummary(s),
		Tests:   []jsonTest{},
	}
	for _, t := range r.Tests {
		rep.Tests = append(rep.Tests, jsonTest{
			Package: t.Package, Name: t.Name, File: t.File, Line: t.Line,
			Status: t.Status(), Failure: t.Fail, Error: t.Err, Output: t.Output,
			DurationMS: float64(t.Duration.Microseconds()) / 1000, Trace: t.Trace,
		})
	}
	for _, e := range r.Errors {
		rep.Errors = append(rep.Errors, jsonError{File: e.Location.File, Line: e.Location.Line, Column: e.Location.Column, Message: e.Message})
	}
	if c := r.Coverage; c != nil {
		jc := &jsonCoverage{Percent: c.Percent, CoveredLines: c.CoveredLines, NotCoveredLines: c.NotCoveredLines, Files: []jsonFile{}}
		for _, f := range c.Files {
			jc.Files = append(jc.Files, jsonFile{
				File: f.File, Package: f.Package, Percent: f.Percent,
				CoveredLines: f.CoveredLines, NotCoveredLines: f.NotCoveredLines,
				Covered: nonNil(f.Covered), NotCovered: nonNil(f.NotCovered),
			})
		}
		rep.Coverage = jc
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func nonNil(r []LineRange) []LineRange {
	if r == nil {
		return []LineRange{}
	}
	return r
}

// JUnit XML, as GitLab and Jenkins read it: one suite per Rego package,
// one case per test, classname the package and name the test, so every
// case is unique; file and line attributes point at the test rule.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

func seconds(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64)
}

// WriteJUnit writes JUnit XML. Modules that did not compile become an
// erroring case each, in a suite named "compile", so CI shows them.
func WriteJUnit(w io.Writer, r *Result) error {
	root := junitSuites{Name: "attest policy test"}
	suites := map[string]*junitSuite{}
	var order []string
	suite := func(name string) *junitSuite {
		if s, ok := suites[name]; ok {
			return s
		}
		s := &junitSuite{Name: name}
		suites[name] = s
		order = append(order, name)
		return s
	}
	var total int64
	for _, e := range r.Errors {
		s := suite("compile")
		s.Tests++
		s.Errors++
		s.Cases = append(s.Cases, junitCase{
			Classname: "compile", Name: e.Location.String(), File: e.Location.File, Line: e.Location.Line, Time: seconds(0),
			Error: &junitMessage{Message: e.Message, Type: "compile", Body: e.Error()},
		})
	}
	for _, t := range r.Tests {
		s := suite(t.Package)
		s.Tests++
		c := junitCase{Classname: t.Package, Name: t.Name, File: t.File, Line: t.Line, Time: seconds(t.Duration.Nanoseconds()), SystemOut: t.Output}
		switch t.Status() {
		case "fail":
			s.Failures++
			msg := t.Fail
			if msg == "" {
				msg = "test failed"
			}
			c.Failure = &junitMessage{Message: msg, Type: "fail", Body: strings.Join(append([]string{msg}, t.Trace...), "\n")}
		case "error":
			s.Errors++
			c.Error = &junitMessage{Message: firstLine(t.Err), Type: "error", Body: t.Err}
		case "skip":
			s.Skipped++
			c.Skipped = &junitMessage{Message: "todo_test_ rule"}
		}
		total += t.Duration.Nanoseconds()
		s.Cases = append(s.Cases, c)
	}
	for _, name := range order {
		s := suites[name]
		var d int64
		for _, c := range s.Cases {
			f, _ := strconv.ParseFloat(c.Time, 64)
			d += int64(f * 1e9)
		}
		s.Time = seconds(d)
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Errors += s.Errors
		root.Skipped += s.Skipped
		root.Suites = append(root.Suites, *s)
	}
	root.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// WriteLCOV writes the coverage as an LCOV tracefile (genhtml, Codecov,
// editors): per policy file SF, one DA per line OPA reports on, LF and LH.
func WriteLCOV(w io.Writer, c *Coverage) error {
	ew := &errWriter{w: w}
	if c == nil {
		return nil
	}
	for _, f := range c.Files {
		ew.printf("TN:\nSF:%s\n", f.File)
		lines := f.Lines()
		hit := 0
		for _, l := range lines {
			ew.printf("DA:%d,%d\n", l.Line, l.Hits)
			if l.Hits > 0 {
				hit++
			}
		}
		ew.printf("LF:%d\nLH:%d\nend_of_record\n", len(lines), hit)
	}
	return ew.err
}

// Cobertura XML, as GitLab's coverage visualisation reads it: filenames
// relative to the <source> directory, one class per file grouped in one
// package per Rego package, one <line> per line.

type cobCoverage struct {
	XMLName         xml.Name     `xml:"coverage"`
	LineRate        string       `xml:"line-rate,attr"`
	BranchRate      string       `xml:"branch-rate,attr"`
	LinesCovered    int          `xml:"lines-covered,attr"`
	LinesValid      int          `xml:"lines-valid,attr"`
	BranchesCovered int          `xml:"branches-covered,attr"`
	BranchesValid   int          `xml:"branches-valid,attr"`
	Complexity      string       `xml:"complexity,attr"`
	Version         string       `xml:"version,attr"`
	Timestamp       int64        `xml:"timestamp,attr"`
	Sources         []string     `xml:"sources>source"`
	Packages        []cobPackage `xml:"packages>package"`
}

type cobPackage struct {
	Name       string     `xml:"name,attr"`
	LineRate   string     `xml:"line-rate,attr"`
	BranchRate string     `xml:"branch-rate,attr"`
	Complexity string     `xml:"complexity,attr"`
	Classes    []cobClass `xml:"classes>class"`
}

type cobClass struct {
	Name       string    `xml:"name,attr"`
	Filename   string    `xml:"filename,attr"`
	LineRate   string    `xml:"line-rate,attr"`
	BranchRate string    `xml:"branch-rate,attr"`
	Complexity string    `xml:"complexity,attr"`
	Methods    struct{}  `xml:"methods"`
	Lines      []cobLine `xml:"lines>line"`
}

type cobLine struct {
	Number int    `xml:"number,attr"`
	Hits   int    `xml:"hits,attr"`
	Branch string `xml:"branch,attr"`
}

func rate(hit, valid int) string {
	if valid == 0 {
		return "1"
	}
	return strconv.FormatFloat(float64(hit)/float64(valid), 'f', 4, 64)
}

// WriteCobertura writes Cobertura XML. sourceRoot is the directory the
// file names are relative to (GitLab wants the repository root); file
// names under it are made relative, with forward slashes. The timestamp
// is 0 so reports are reproducible.
func WriteCobertura(w io.Writer, c *Coverage, sourceRoot string) error {
	if sourceRoot == "" {
		sourceRoot = "."
	}
	out := cobCoverage{BranchRate: "0", Complexity: "0", Version: "attest", Sources: []string{filepath.ToSlash(sourceRoot)}}
	pkgs := map[string]*cobPackage{}
	pkgHits := map[string][2]int{}
	var order []string
	if c != nil {
		for _, f := range c.Files {
			p, ok := pkgs[f.Package]
			if !ok {
				p = &cobPackage{Name: f.Package, BranchRate: "0", Complexity: "0"}
				pkgs[f.Package] = p
				order = append(order, f.Package)
			}
			name := relTo(sourceRoot, f.File)
			cl := cobClass{Name: path.Base(name), Filename: name, BranchRate: "0", Complexity: "0", Lines: []cobLine{}}
			hit := 0
			lines := f.Lines()
			for _, l := range lines {
				cl.Lines = append(cl.Lines, cobLine{Number: l.Line, Hits: l.Hits, Branch: "false"})
				if l.Hits > 0 {
					hit++
				}
			}
			cl.LineRate = rate(hit, len(lines))
			p.Classes = append(p.Classes, cl)
			h := pkgHits[f.Package]
			pkgHits[f.Package] = [2]int{h[0] + hit, h[1] + len(lines)}
			out.LinesCovered += hit
			out.LinesValid += len(lines)
		}
	}
	slices.Sort(order)
	for _, name := range order {
		p := pkgs[name]
		h := pkgHits[name]
		p.LineRate = rate(h[0], h[1])
		out.Packages = append(out.Packages, *p)
	}
	out.LineRate = rate(out.LinesCovered, out.LinesValid)
	if _, err := io.WriteString(w, xml.Header+`<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">`+"\n"); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// relTo makes file relative to root when it is under it.
func relTo(root, file string) string {
	if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(file)
}
