package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
)

// tapReporter writes TAP version 14: one test point per finding, per input
// error and per file without findings, each finding with a YAML diagnostic
// block. Exempted findings are "ok ... # SKIP exempted: reason"; warnings
// and dryrun findings are "ok" (they do not fail the run); notes, expired
// exemptions and the summary are comments.
type tapReporter struct{ o *options }

// tapDiag is the YAML block under a test point; field order is fixed.
type tapDiag struct {
	Message     string `yaml:"message"`
	Level       string `yaml:"level"`
	Severity    string `yaml:"severity,omitempty"`
	Rule        string `yaml:"rule,omitempty"`
	Enforcement string `yaml:"enforcement,omitempty"`
	Resource    string `yaml:"resource,omitempty"`
	File        string `yaml:"file,omitempty"`
	Document    *int   `yaml:"document,omitempty"`
	Line        int    `yaml:"line,omitempty"`
	Column      int    `yaml:"column,omitempty"`
	Field       string `yaml:"field,omitempty"`
	Exemption   string `yaml:"exemption,omitempty"`
	Emergency   bool   `yaml:"emergency_override,omitempty"`
}

type tapPoint struct {
	ok        bool
	desc      string
	directive string
	diag      *tapDiag
}

func (t *tapReporter) Report(w io.Writer, res *finding.Result) error {
	var points []tapPoint
	checkedByFile := map[string][]finding.Checked{}
	for _, c := range res.Checked {
		checkedByFile[c.Location.File] = append(checkedByFile[c.Location.File], c)
	}
	flagged := map[string]bool{}
	for i := range res.Findings {
		flagged[checkedKey(res.Findings[i].Resource, res.Findings[i].Location.Document)] = true
	}
	for _, g := range groupByFile(res) {
		for _, f := range g.findings {
			p := tapPoint{ok: f.Kind != finding.KindError && !t.o.fails(f)}
			p.desc = fmt.Sprintf("%s [%s] %s", orDash(Printable(locString(f.Location))), Printable(ruleLabel(f)), lineText(f.Message))
			if ref := resourceRef(f.Resource); ref != "" {
				p.desc += " (" + Printable(ref) + ")"
			}
			doc := f.Location.Document
			d := &tapDiag{Message: PrintableLines(oneLineKeep(f.Message)), Level: Level(f), Severity: f.Severity.String(),
				Rule: Printable(ruleLabel(f)), Enforcement: string(f.Enforcement), Resource: Printable(resourceRef(f.Resource)),
				File: Printable(f.Location.File), Document: &doc, Line: f.Location.Line, Column: f.Location.Column,
				Field: Printable(f.Location.Field)}
			if e := f.Exemption; e != nil {
				d.Exemption = PrintableLines(exemptionText(e))
				d.Emergency = e.Emergency
				reason := "exempted: " + e.Reason
				if e.Emergency {
					reason = "EMERGENCY OVERRIDE, " + reason
				}
				p.directive = "SKIP " + lineText(reason)
			}
			p.diag = d
			points = append(points, p)
		}
		for _, e := range g.errors {
			doc := e.Location.Document
			points = append(points, tapPoint{
				desc: "error: " + orDash(Printable(locString(e.Location))) + " " + lineText(e.Message),
				diag: &tapDiag{Message: PrintableLines(oneLineKeep(e.Message)), Level: LevelError, File: Printable(e.Location.File),
					Document: &doc, Line: e.Location.Line, Column: e.Location.Column},
			})
		}
		for _, c := range checkedByFile[g.file] {
			if !flagged[checkedKey(c.Resource, c.Location.Document)] {
				points = append(points, tapPoint{ok: true, desc: Printable(locString(c.Location)) + " " + Printable(resourceRef(c.Resource)) + " passed all policies"})
			}
		}
		if len(g.findings) == 0 && len(g.errors) == 0 && g.file != "" && len(res.Checked) == 0 {
			points = append(points, tapPoint{ok: true, desc: Printable(g.file) + ": all resources passed all policies"})
		}
	}

	ew := &errWriter{w: w}
	ew.write("TAP version 14\n")
	ew.printf("1..%d\n", len(points))
	for i, p := range points {
		status := "ok"
		if !p.ok {
			status = "not ok"
		}
		ew.printf("%s %d - %s", status, i+1, tapEscape(p.desc))
		if p.directive != "" {
			ew.printf(" # %s", tapEscape(p.directive))
		}
		ew.write("\n")
		if p.diag != nil {
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(p.diag); err != nil {
				return err
			}
			_ = enc.Close()
			ew.write("  ---\n")
			for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
				ew.write("  " + l + "\n")
			}
			ew.write("  ...\n")
		}
	}
	for _, g := range groupByFile(res) {
		for _, n := range g.notes {
			ew.write("# note: " + orDash(Printable(locString(n.Location))) + ": " + lineText(n.Message) + "\n")
		}
	}
	for i := range res.Expired {
		ew.write("# expired " + lineText(expiredText(&res.Expired[i])) + "\n")
	}
	if n := emergencyCount(res); n > 0 {
		ew.printf("# EMERGENCY OVERRIDE: %s bypassed by break-glass exemptions\n", plural(n, "finding", "findings"))
	}
	ew.write("# " + summaryLine(res) + "\n")
	return ew.err
}

// tapEscape escapes what TAP gives meaning to in a description: "#" starts
// a directive and "\" escapes it.
func tapEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, "#", `\#`)
}
