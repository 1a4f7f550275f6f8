package policytest

import (
	"cmp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/tester"
)

// Coverage is which lines of the policies (not of the tests) the tests
// evaluated.
type Coverage struct {
	Files []FileCoverage // by path
	// CoveredLines and NotCoveredLines sum the files'; Percent is
	// 100 * covered / (covered + not covered), OPA's formula, over the
	// policy files only (opa test also counts the test files, which
	// inflates it).
	CoveredLines    int
	NotCoveredLines int
	Percent         float64
}

// FileCoverage is one policy file.
type FileCoverage struct {
	File    string
	Package string // Rego package, "attest.security"
	// Covered and NotCovered are the line ranges OPA reports, sorted, with
	// overlapping ranges merged. OPA can list a line under both (two
	// expressions on it, one evaluated): such a line is covered, so it is
	// taken out of NotCovered, and the two never share a line.
	// CoveredLines and NotCoveredLines count the lines of each, and
	// Percent is 100 * covered / (covered + not covered), 0 for a file OPA
	// reports no line of.
	Covered         []LineRange
	NotCovered      []LineRange
	CoveredLines    int
	NotCoveredLines int
	Percent         float64
}

// LineRange is an inclusive range of 1-based lines.
type LineRange struct {
	Start, End int
}

// Below reports whether coverage is under threshold percent. A nil
// Coverage (coverage not measured) is never below.
func (c *Coverage) Below(threshold float64) bool {
	return c != nil && c.Percent < threshold
}

// Lines gives each line of the file that OPA reports on with its hit count
// for LCOV and Cobertura: 1 when the tests evaluated something on it, 0
// when they evaluated nothing on it. A line OPA lists as both (two
// expressions, one evaluated) is covered, as in CoveredLines and
// NotCoveredLines, so a line-based report agrees with the text and JSON.
func (f *FileCoverage) Lines() []LineHits {
	hits := map[int]int{}
	for _, r := range f.NotCovered {
		for l := r.Start; l <= r.End; l++ {
			hits[l] = 0
		}
	}
	for _, r := range f.Covered {
		for l := r.Start; l <= r.End; l++ {
			hits[l] = 1
		}
	}
	out := make([]LineHits, 0, len(hits))
	for l, h := range hits {
		out = append(out, LineHits{Line: l, Hits: h})
	}
	slices.SortFunc(out, func(a, b LineHits) int { return cmp.Compare(a.Line, b.Line) })
	return out
}

// LineHits is one line of a line-based report.
type LineHits struct {
	Line, Hits int
}

// Uncovered lists the ranges of lines on which nothing was evaluated, for
// the text report: NotCovered without the lines also covered.
func (f *FileCoverage) Uncovered() []LineRange {
	var out []LineRange
	for _, lh := range f.Lines() {
		if lh.Hits > 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End == lh.Line-1 {
			out[n-1].End = lh.Line
			continue
		}
		out = append(out, LineRange{lh.Line, lh.Line})
	}
	return out
}

// coverage keeps the policy files of OPA's report.
func coverage(rep cover.Report, parsed map[string]*ast.Module) *Coverage {
	c := &Coverage{Files: []FileCoverage{}}
	for path, m := range parsed {
		if isTest(path, m) {
			continue
		}
		fc := FileCoverage{File: path, Package: strings.TrimPrefix(m.Package.Path.String(), "data.")}
		if fr, ok := rep.Files[path]; ok && fr != nil {
			// Not OPA's counts and percentage: those count a line that is
			// in both lists twice, once as covered and once as not.
			fc.Covered = ranges(fr.Covered)
			fc.NotCovered = without(ranges(fr.NotCovered), fc.Covered)
			fc.CoveredLines = lineCount(fc.Covered)
			fc.NotCoveredLines = lineCount(fc.NotCovered)
			if total := fc.CoveredLines + fc.NotCoveredLines; total > 0 {
				fc.Percent = 100 * float64(fc.CoveredLines) / float64(total)
			}
		}
		c.CoveredLines += fc.CoveredLines
		c.NotCoveredLines += fc.NotCoveredLines
		c.Files = append(c.Files, fc)
	}
	slices.SortFunc(c.Files, func(a, b FileCoverage) int { return cmp.Compare(a.File, b.File) })
	if total := c.CoveredLines + c.NotCoveredLines; total > 0 {
		c.Percent = 100 * float64(c.CoveredLines) / float64(total)
	}
	return c
}

// ranges turns OPA's ranges into sorted line ranges, merging those that
// share a line (adjacent ones stay apart, as OPA gives them), so no line
// is in two of them.
func ranges(rs []cover.Range) []LineRange {
	in := make([]LineRange, 0, len(rs))
	for _, r := range rs {
		lr := LineRange{Start: r.Start.Row, End: max(r.End.Row, r.Start.Row)}
		if lr.Start < 1 {
			continue
		}
		in = append(in, lr)
	}
	slices.SortFunc(in, func(a, b LineRange) int { return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End)) })
	out := make([]LineRange, 0, len(in))
	for _, r := range in {
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// without takes the lines of covered out of rs. Both are sorted and
// hold no line twice; so is the result.
func without(rs, covered []LineRange) []LineRange {
	out := make([]LineRange, 0, len(rs))
	i := 0
	for _, r := range rs {
		start := r.Start
		for ; i < len(covered) && covered[i].End < start; i++ {
		}
		for j := i; j < len(covered) && covered[j].Start <= r.End && start <= r.End; j++ {
			if covered[j].Start > start {
				out = append(out, LineRange{start, covered[j].Start - 1})
			}
			start = max(start, covered[j].End+1)
		}
		if start <= r.End {
			out = append(out, LineRange{start, r.End})
		}
	}
	return out
}

// lineCount counts the lines of ranges that hold no line twice.
func lineCount(rs []LineRange) int {
	n := 0
	for _, r := range rs {
		n += r.End - r.Start + 1
	}
	return n
}

// isTest follows OPA's convention (the _test.rego suffix) and the policy
// loader's: a module whose every rule is a test is a test module too.
func isTest(path string, m *ast.Module) bool {
	if strings.HasSuffix(path, "_test.rego") {
		return true
	}
	if len(m.Rules) == 0 {
		return false
	}
	for _, r := range m.Rules {
		name := r.Head.Name.String()
		if len(r.Head.Reference) > 0 {
			name = r.Head.Reference[0].String()
		}
		if !strings.HasPrefix(name, tester.TestPrefix) && !strings.HasPrefix(name, tester.SkipTestPrefix) {
			return false
		}
	}
	return true
}
