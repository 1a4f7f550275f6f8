package policytest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
)

// opaRanges builds OPA ranges from [start, end] pairs.
func opaRanges(rs ...LineRange) []cover.Range {
	out := make([]cover.Range, 0, len(rs))
	for _, r := range rs {
		out = append(out, cover.Range{Start: cover.Position{Row: r.Start}, End: cover.Position{Row: r.End}})
	}
	return out
}

// opaReport is what OPA says about one file: the ranges and OPA's own
// counts (unique rows of each list, a line in both counted twice).
func opaReport(covered, notCovered []LineRange) *cover.FileReport {
	rows := func(rs []LineRange) int {
		seen := map[int]bool{}
		for _, r := range rs {
			for l := r.Start; l <= r.End; l++ {
				seen[l] = true
			}
		}
		return len(seen)
	}
	fr := &cover.FileReport{
		Covered: opaRanges(covered...), NotCovered: opaRanges(notCovered...),
		CoveredLines: rows(covered), NotCoveredLines: rows(notCovered),
	}
	if t := fr.CoveredLines + fr.NotCoveredLines; t > 0 {
		fr.Coverage = 100 * float64(fr.CoveredLines) / float64(t)
	}
	return fr
}

func mustModule(t *testing.T, path, src string) *ast.Module {
	t.Helper()
	m, err := ast.ParseModuleWithOpts(path, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type lr = LineRange

// TestCoverageOverlap: OPA can list a line as covered and as not covered
// (two expressions on it, one evaluated). Such a line is covered: it is
// not in NotCovered, not counted as not covered, and the percentages, the
// threshold and every report say the same.
func TestCoverageOverlap(t *testing.T) {
	for _, tc := range []struct {
		name                string
		covered, notCovered []LineRange
		missing             bool // the file is not in OPA's report
		wantNotCovered      []LineRange
		wantCov, wantNot    int
		wantPercent         float64
	}{
		{name: "disjoint", covered: []lr{{1, 2}}, notCovered: []lr{{4, 4}},
			wantNotCovered: []lr{{4, 4}}, wantCov: 2, wantNot: 1, wantPercent: 100 * 2.0 / 3},
		{name: "one line in both", covered: []lr{{4, 4}, {6, 6}, {8, 8}}, notCovered: []lr{{6, 6}},
			wantNotCovered: []lr{}, wantCov: 3, wantNot: 0, wantPercent: 100},
		{name: "covered inside a not-covered range", covered: []lr{{3, 5}}, notCovered: []lr{{1, 8}},
			wantNotCovered: []lr{{1, 2}, {6, 8}}, wantCov: 3, wantNot: 5, wantPercent: 100 * 3.0 / 8},
		{name: "edges of not-covered ranges covered", covered: []lr{{2, 2}, {7, 7}}, notCovered: []lr{{2, 3}, {6, 7}},
			wantNotCovered: []lr{{3, 3}, {6, 6}}, wantCov: 2, wantNot: 2, wantPercent: 50},
		{name: "overlapping not-covered ranges", covered: []lr{{5, 5}}, notCovered: []lr{{1, 3}, {2, 6}},
			wantNotCovered: []lr{{1, 4}, {6, 6}}, wantCov: 1, wantNot: 5, wantPercent: 100 * 1.0 / 6},
		{name: "overlapping covered ranges", covered: []lr{{1, 3}, {2, 4}}, notCovered: []lr{{4, 5}},
			wantNotCovered: []lr{{5, 5}}, wantCov: 4, wantNot: 1, wantPercent: 80},
		{name: "nothing covered", notCovered: []lr{{1, 3}},
			wantNotCovered: []lr{{1, 3}}, wantCov: 0, wantNot: 3, wantPercent: 0},
		{name: "not in the report", missing: true,
			wantNotCovered: []lr{}, wantCov: 0, wantNot: 0, wantPercent: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const path = "p/policy.rego"
			parsed := map[string]*ast.Module{path: mustModule(t, path, "package p\n\nallow := true\n")}
			rep := cover.Report{Files: map[string]*cover.FileReport{}}
			if !tc.missing {
				rep.Files[path] = opaReport(tc.covered, tc.notCovered)
			}
			c := coverage(rep, parsed)
			if len(c.Files) != 1 {
				t.Fatalf("files %+v", c.Files)
			}
			f := c.Files[0]
			if !reflect.DeepEqual(nonNil(f.NotCovered), tc.wantNotCovered) {
				t.Errorf("NotCovered %v, want %v", f.NotCovered, tc.wantNotCovered)
			}
			if !reflect.DeepEqual(nonNil(f.Uncovered()), tc.wantNotCovered) {
				t.Errorf("Uncovered %v, want %v", f.Uncovered(), tc.wantNotCovered)
			}
			if f.CoveredLines != tc.wantCov || f.NotCoveredLines != tc.wantNot || f.Percent != tc.wantPercent {
				t.Errorf("file %d covered, %d not, %v%%; want %d, %d, %v%%", f.CoveredLines, f.NotCoveredLines, f.Percent, tc.wantCov, tc.wantNot, tc.wantPercent)
			}
			if c.CoveredLines != tc.wantCov || c.NotCoveredLines != tc.wantNot || c.Percent != tc.wantPercent {
				t.Errorf("total %d covered, %d not, %v%%; want %d, %d, %v%%", c.CoveredLines, c.NotCoveredLines, c.Percent, tc.wantCov, tc.wantNot, tc.wantPercent)
			}
			assertReportsAgree(t, c)
		})
	}
}

// TestCoverageOverlapReports: several files, one with a line OPA lists
// both ways (as examples/policies/compliance/hipaa.rego line 6): text,
// JSON, LCOV, Cobertura and the threshold all use the same numbers.
func TestCoverageOverlapReports(t *testing.T) {
	parsed := map[string]*ast.Module{
		"a.rego":      mustModule(t, "a.rego", "package a\n\nallow := true\n"),
		"b.rego":      mustModule(t, "b.rego", "package b\n\nallow := true\n"),
		"b_test.rego": mustModule(t, "b_test.rego", "package b_test\n\ntest_x if true\n"),
	}
	rep := cover.Report{Files: map[string]*cover.FileReport{
		// 15 lines, 14 covered; line 6 also "not covered".
		"a.rego": opaReport([]lr{{1, 14}}, []lr{{6, 6}, {15, 15}}),
		// 4 lines, all covered; line 3 also "not covered".
		"b.rego":      opaReport([]lr{{1, 4}}, []lr{{3, 3}}),
		"b_test.rego": opaReport([]lr{{3, 3}}, nil),
	}}
	c := coverage(rep, parsed)
	if c.CoveredLines != 18 || c.NotCoveredLines != 1 {
		t.Fatalf("covered %d, not covered %d; want 18 and 1", c.CoveredLines, c.NotCoveredLines)
	}
	if want := 100 * 18.0 / 19; c.Percent != want {
		t.Errorf("percent %v, want %v", c.Percent, want)
	}
	if c.Below(94.7) || !c.Below(94.8) {
		t.Errorf("threshold: percent %v", c.Percent)
	}
	var text bytes.Buffer
	if err := WriteText(&text, &Result{Coverage: c}, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Coverage: 94.74% (18 of 19 lines)\n",
		"  a.rego: 93.33%, not covered: 15\n",
		"  b.rego: 100.00%\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	assertReportsAgree(t, c)
}

// assertReportsAgree checks that the JSON, LCOV and Cobertura reports
// count the lines as c does, file by file and in total.
func assertReportsAgree(t *testing.T, c *Coverage) {
	t.Helper()
	type counts struct{ cov, valid int }
	want := map[string]counts{}
	for _, f := range c.Files {
		want[f.File] = counts{f.CoveredLines, f.CoveredLines + f.NotCoveredLines}
		lines := f.Lines()
		hit := 0
		for _, l := range lines {
			hit += min(l.Hits, 1)
		}
		if hit != f.CoveredLines || len(lines) != f.CoveredLines+f.NotCoveredLines {
			t.Errorf("%s: Lines has %d of %d, file says %d of %d", f.File, hit, len(lines), f.CoveredLines, f.CoveredLines+f.NotCoveredLines)
		}
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, &Result{Coverage: c}); err != nil {
		t.Fatal(err)
	}
	var back jsonReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Coverage == nil || back.Coverage.CoveredLines != c.CoveredLines || back.Coverage.NotCoveredLines != c.NotCoveredLines || back.Coverage.Percent != c.Percent {
		t.Errorf("JSON coverage %+v vs %+v", back.Coverage, c)
	} else {
		for _, f := range back.Coverage.Files {
			w := want[f.File]
			if f.CoveredLines != w.cov || f.CoveredLines+f.NotCoveredLines != w.valid {
				t.Errorf("JSON %s: %d of %d, want %d of %d", f.File, f.CoveredLines, f.CoveredLines+f.NotCoveredLines, w.cov, w.valid)
			}
			notCov := 0
			for _, r := range f.NotCovered {
				notCov += r.End - r.Start + 1
				for _, cr := range f.Covered {
					if r.Start <= cr.End && cr.Start <= r.End {
						t.Errorf("JSON %s: not covered %v overlaps covered %v", f.File, r, cr)
					}
				}
			}
			if notCov != f.NotCoveredLines {
				t.Errorf("JSON %s: not_covered ranges hold %d lines, not_covered_lines %d", f.File, notCov, f.NotCoveredLines)
			}
		}
	}

	var lcov bytes.Buffer
	if err := WriteLCOV(&lcov, c); err != nil {
		t.Fatal(err)
	}
	got := map[string]counts{}
	var cur string
	for _, line := range strings.Split(strings.TrimSpace(lcov.String()), "\n") {
		key, val, _ := strings.Cut(line, ":")
		n, _ := strconv.Atoi(val)
		switch key {
		case "SF":
			cur = val
		case "LF":
			got[cur] = counts{got[cur].cov, n}
		case "LH":
			got[cur] = counts{n, got[cur].valid}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LCOV %v, want %v", got, want)
	}

	var cob bytes.Buffer
	if err := WriteCobertura(&cob, c, "."); err != nil {
		t.Fatal(err)
	}
	var cb cobCoverage
	if err := xml.Unmarshal(cob.Bytes(), &cb); err != nil {
		t.Fatal(err)
	}
	if cb.LinesCovered != c.CoveredLines || cb.LinesValid != c.CoveredLines+c.NotCoveredLines {
		t.Errorf("Cobertura %d of %d, want %d of %d", cb.LinesCovered, cb.LinesValid, c.CoveredLines, c.CoveredLines+c.NotCoveredLines)
	}
	if total := c.CoveredLines + c.NotCoveredLines; total > 0 {
		if want := fmt.Sprintf("%.4f", float64(c.CoveredLines)/float64(total)); cb.LineRate != want {
			t.Errorf("Cobertura line-rate %s, want %s", cb.LineRate, want)
		}
	}
}
