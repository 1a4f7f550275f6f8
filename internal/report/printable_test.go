package report

import (
	"strings"
	"testing"
	"unicode"

	"github.com/continuums/attest/internal/finding"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"web":                           "web",
		"prod/web-1 (Deployment)":       "prod/web-1 (Deployment)",
		"naïve ünïcode 名前":              "naïve ünïcode 名前",
		"evil\x1b[31mRED\x1b[0m":        `evil\x1b[31mRED\x1b[0m`,
		"a\nb\rc\td":                    `a\nb\rc\td`,
		"del\x7f c1\u0085 nul\x00":      `del\x7f c1\x85 nul\x00`,
		"abc\u202edcba\u2066x\u2069":    `abc\u202edcba\u2066x\u2069`,
		"zero width joiner \u200d kept": "zero width joiner \u200d kept",
		"not utf-8 \x9b[31m":            `not utf-8 \x9b[31m`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	// lineText folds whitespace first, then escapes what is left; oneLine
	// (for JUnit and Code Quality, which keep the exact text) only folds.
	if got := lineText("two\r\nlines \x1b[2K  and\ttabs"); got != `two lines \x1b[2K and tabs` {
		t.Errorf("lineText: %q", got)
	}
	if got := oneLine("a\x1b[2K\nb"); got != "a\x1b[2K b" {
		t.Errorf("oneLine: %q", got)
	}
}

// A manifest (or a file name) from someone's pull request cannot write
// terminal escapes or forge lines in the text-like reports: every line the
// text and TAP formats write is one the report composed, with the hostile
// characters shown as escapes.
func TestHostileInputStaysPrintable(t *testing.T) {
	evil := finding.ResourceRef{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "evil\x1b[2K\rok 1 - fake\nPASS"}
	file := "k8s/x\x1b]0;title\x07.yaml"
	res := &finding.Result{
		Files:     []string{file},
		Resources: 1,
		Findings: []finding.Finding{{
			Policy: "attest-security", Rule: "attest-security/privileged-container", Kind: finding.KindViolation,
			Severity: finding.SeverityCritical, Enforcement: finding.EnforcementStrict, Resource: evil,
			Message:   "container \u202eexe.kcatta\u202c is privileged\x1b[8m hidden",
			Location:  finding.Location{File: file, Line: 3, Column: 5, Field: "spec.containers[0]\x1b[1A"},
			Exemption: &finding.Exemption{Source: "annotation", Reason: "ok\x1b[32m", ApprovedBy: "a\nb"},
		}},
		Errors: []finding.Error{{Location: finding.Location{File: file}, Message: "bad\x1b[31m file"}},
	}
	res.Summary = finding.Summary{Exempted: 1, Errors: 1, Passed: false}
	for _, format := range []string{FormatText, FormatTAP} {
		out := string(render(t, res, format))
		for _, r := range out {
			if r != '\n' && (unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)) {
				t.Errorf("%s: raw %U in the output:\n%s", format, r, out)
				break
			}
		}
		for _, want := range []string{`\x1b[2K\rok 1 - fake\nPASS`, `\u202eexe.kcatta\u202c`, `x\x1b]0;title\x07.yaml`} {
			if format == FormatTAP {
				want = strings.ReplaceAll(want, `\`, `\\`) // TAP escapes the backslash of the escape
			}
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", format, want, out)
			}
		}
		if format == FormatTAP && strings.Contains(out, "\nok 1 - fake") {
			t.Errorf("TAP: a forged test line:\n%s", out)
		}
	}
}
