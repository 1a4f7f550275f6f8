package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/continuums/attest/internal/finding"
)

// junitReporter writes JUnit XML as GitLab's unit test report reads it: one
// testsuite per file, one testcase per resource and rule that fired, with
// classname (the file) plus name unique in the report.
type junitReporter struct{ o *options }

type junitTestsuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Suites   []junitTestsuite `xml:"testsuite"`
}

type junitTestsuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Failures  int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	File      string          `xml:"file,attr,omitempty"`
	Cases     []junitTestcase `xml:"testcase"`
	SystemOut *junitText      `xml:"system-out,omitempty"`
}

// junitText is element text written as CDATA, so multi-line details stay
// readable in the file.
type junitText struct {
	Text string `xml:",cdata"`
}

func newJUnitText(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{Text: xmlSafe(s)}
}

// xmlSafe replaces the characters XML 1.0 cannot carry, even escaped.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}

type junitTestcase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// junitCase collects the findings of one resource and rule in one file.
type junitCase struct {
	doc      int
	ref      string
	rule     string
	line     int
	findings []*finding.Finding
}

func (j *junitReporter) Report(w io.Writer, res *finding.Result) error {
	out := junitTestsuites{Name: "attest policy check"}
	var expired []string
	for i := range res.Expired {
		expired = append(expired, "expired "+oneLine(expiredText(&res.Expired[i])))
	}
	expiredDone := false
	checkedByFile := map[string][]finding.Checked{}
	for _, c := range res.Checked {
		checkedByFile[c.Location.File] = append(checkedByFile[c.Location.File], c)
	}
	flagged := map[string]bool{}
	for i := range res.Findings {
		f := &res.Findings[i]
		flagged[checkedKey(f.Resource, f.Location.Document)] = true
	}
	for _, g := range groupByFile(res) {
		file := g.file
		suite := junitTestsuite{Name: file, File: file}
		if file == "" {
			suite.Name = "attest"
		}
		classname := suite.Name
		used := map[string]bool{}
		unique := func(name string, doc int) string {
			if !used[name] {
				used[name] = true
				return name
			}
			alt := fmt.Sprintf("%s [document %d]", name, doc+1)
			for k := 2; used[alt]; k++ {
				alt = fmt.Sprintf("%s [document %d] #%d", name, doc+1, k)
			}
			used[alt] = true
			return alt
		}

		var cases []*junitCase
		byKey := map[string]*junitCase{}
		for _, f := range g.findings {
			ref := resourceRef(f.Resource)
			key := fmt.Sprintf("%d\x00%s\x00%s", f.Location.Document, ref, ruleLabel(f))
			c := byKey[key]
			if c == nil {
				c = &junitCase{doc: f.Location.Document, ref: ref, rule: ruleLabel(f), line: f.Location.Line}
				byKey[key] = c
				cases = append(cases, c)
			}
			c.findings = append(c.findings, f)
		}
		for _, c := range cases {
			name := c.rule
			if c.ref != "" {
				name = c.ref + " " + c.rule
			}
			tc := junitTestcase{Classname: classname, Name: unique(name, c.doc), File: file, Line: c.line}
			j.fill(&tc, c.findings)
			suite.Cases = append(suite.Cases, tc)
		}
		for i, e := range g.errors {
			name := "input error"
			if i > 0 {
				name = fmt.Sprintf("input error #%d", i+1)
			}
			tc := junitTestcase{Classname: classname, Name: unique(name, e.Location.Document), File: file, Line: e.Location.Line,
				Error: &junitProblem{Message: oneLine(e.Message), Type: "error", Body: xmlSafe(e.Error())}}
			suite.Cases = append(suite.Cases, tc)
		}
		for _, c := range checkedByFile[file] {
			if flagged[checkedKey(c.Resource, c.Location.Document)] {
				continue
			}
			suite.Cases = append(suite.Cases, junitTestcase{Classname: classname,
				Name: unique(resourceRef(c.Resource)+" passed all policies", c.Location.Document), File: file, Line: c.Location.Line})
		}
		if len(g.findings) == 0 && len(g.errors) == 0 && file != "" && len(checkedByFile[file]) == 0 && len(res.Checked) == 0 {
			// Without the list of checked resources, a file with no
			// findings is one passing case.
			suite.Cases = append(suite.Cases, junitTestcase{Classname: classname,
				Name: unique("all resources passed all policies", 0), File: file})
		}
		var notes []string
		for _, n := range g.notes {
			notes = append(notes, "note: "+locString(n.Location)+": "+oneLine(n.Message))
		}
		if file == "" {
			notes = append(notes, expired...)
			expiredDone = true
		}
		suite.SystemOut = newJUnitText(strings.Join(notes, "\n"))
		if len(suite.Cases) == 0 && suite.SystemOut == nil {
			continue
		}
		out.Suites = append(out.Suites, suite)
	}
	if len(expired) > 0 && !expiredDone {
		out.Suites = append(out.Suites, junitTestsuite{Name: "attest", SystemOut: newJUnitText(strings.Join(expired, "\n"))})
	}
	for i := range out.Suites {
		s := &out.Suites[i]
		for _, c := range s.Cases {
			s.Tests++
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
	}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
	}
	ew := &errWriter{w: w}
	ew.write(xml.Header)
	if ew.err != nil {
		return ew.err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// fill sets a testcase's outcome from its findings: an evaluation error is
// an <error>, a failing finding a <failure>, all findings exempted a
// <skipped>, anything else (warnings, dryrun) passes with the findings in
// <system-out>.
func (j *junitReporter) fill(tc *junitTestcase, fs []*finding.Finding) {
	var errs, fails, exempt, other []*finding.Finding
	for _, f := range fs {
		switch {
		case f.Kind == finding.KindError:
			errs = append(errs, f)
		case f.Exempted():
			exempt = append(exempt, f)
		case j.o.fails(f):
			fails = append(fails, f)
		default:
			other = append(other, f)
		}
	}
	var body []string
	for _, f := range fs {
		body = append(body, junitDetails(f))
	}
	details := xmlSafe(strings.Join(body, "\n\n"))
	switch {
	case len(errs) > 0:
		tc.Error = &junitProblem{Message: oneLine(errs[0].Message), Type: "error", Body: details}
	case len(fails) > 0:
		tc.Failure = &junitProblem{Message: oneLine(fails[0].Message), Type: fails[0].Severity.String(), Body: details}
	case len(exempt) > 0 && len(other) == 0:
		e := exempt[0].Exemption
		msg := "exempted: " + e.Reason
		if e.Emergency {
			msg = "EMERGENCY OVERRIDE, " + msg
		}
		tc.Skipped = &junitSkipped{Message: oneLine(msg)}
		tc.SystemOut = newJUnitText(details)
	default:
		tc.SystemOut = newJUnitText(details)
	}
}

func junitDetails(f *finding.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", strings.ToUpper(Level(f)), oneLine(f.Message))
	fmt.Fprintf(&b, "rule: %s\nseverity: %s\n", ruleLabel(f), f.Severity)
	if f.Enforcement != "" {
		fmt.Fprintf(&b, "enforcement: %s\n", f.Enforcement)
	}
	if ref := resourceRef(f.Resource); ref != "" {
		fmt.Fprintf(&b, "resource: %s\n", ref)
	}
	fmt.Fprintf(&b, "location: %s\n", orDash(locString(f.Location)))
	if f.Location.Field != "" {
		fmt.Fprintf(&b, "field: %s\n", f.Location.Field)
	}
	if e := f.Exemption; e != nil {
		if e.Emergency {
			b.WriteString("EMERGENCY OVERRIDE\n")
		}
		fmt.Fprintf(&b, "%s\n", oneLine(exemptionText(e)))
	}
	return strings.TrimRight(b.String(), "\n")
}

// checkedKey identifies a resource within its file.
func checkedKey(r finding.ResourceRef, doc int) string {
	return fmt.Sprintf("%d\x00%s", doc, resourceRef(r))
}
