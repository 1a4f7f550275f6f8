package report

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/continuums/attest/internal/finding"
)

// githubReporter writes GitHub Actions workflow commands (::error,
// ::warning, ::notice), which the runner turns into annotations on the
// pull request, and with WithStepSummary appends a Markdown summary to
// $GITHUB_STEP_SUMMARY.
type githubReporter struct{ o *options }

// ghCommand maps a level onto a workflow command.
func ghCommand(level string) string {
	switch level {
	case LevelError:
		return "error"
	case LevelWarning:
		return "warning"
	}
	return "notice"
}

// ghEscapeData escapes a command's message as the runner expects.
func ghEscapeData(s string) string {
	s = strings.ReplaceAll(s, "%", "%25")
	s = strings.ReplaceAll(s, "\r", "%0D")
	return strings.ReplaceAll(s, "\n", "%0A")
}

// ghEscapeProperty escapes a property value: the data escapes plus ":" and
// ",", which separate properties.
func ghEscapeProperty(s string) string {
	s = ghEscapeData(s)
	s = strings.ReplaceAll(s, ":", "%3A")
	return strings.ReplaceAll(s, ",", "%2C")
}

// ghAnnotation writes one "::cmd file=F,line=L,col=C,title=T::message".
func (g *githubReporter) annotation(ew *errWriter, cmd string, loc finding.Location, title, msg string) {
	var props []string
	if loc.File != "" && loc.File != stdinName {
		props = append(props, "file="+ghEscapeProperty(g.o.displayPath(loc.File)))
		if loc.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", loc.Line))
			if loc.Column > 0 {
				props = append(props, fmt.Sprintf("col=%d", loc.Column))
			}
		}
	}
	if title != "" {
		props = append(props, "title="+ghEscapeProperty(title))
	}
	ew.printf("::%s %s::%s\n", cmd, strings.Join(props, ","), ghEscapeData(msg))
}

func (g *githubReporter) Report(w io.Writer, res *finding.Result) error {
	ew := &errWriter{w: w}
	rules := res.RuleByID()
	for i := range res.Findings {
		f := &res.Findings[i]
		title := ruleLabel(f)
		if r := rules[f.Rule]; r != nil && r.Title != "" {
			title = r.Title + " (" + ruleLabel(f) + ")"
		}
		msg := strings.TrimSpace(f.Message)
		if ref := resourceRef(f.Resource); ref != "" {
			msg += " (" + ref + ")"
		}
		if f.Location.File == stdinName {
			msg = "stdin: " + msg
		}
		if f.Location.Field != "" {
			msg += "\nfield: " + f.Location.Field
		}
		if e := f.Exemption; e != nil {
			if e.Emergency {
				msg += "\nEMERGENCY OVERRIDE: " + exemptionText(e)
				title = "EMERGENCY OVERRIDE: " + title
			} else {
				msg += "\n" + exemptionText(e)
			}
		}
		g.annotation(ew, ghCommand(Level(f)), f.Location, title, msg)
	}
	for i := range res.Errors {
		e := &res.Errors[i]
		msg := strings.TrimSpace(e.Message)
		if e.Location.File == stdinName {
			msg = "stdin: " + msg
		}
		g.annotation(ew, "error", e.Location, "attest: input error", msg)
	}
	for i := range res.Notes {
		n := &res.Notes[i]
		g.annotation(ew, "notice", n.Location, "attest: note", strings.TrimSpace(n.Message))
	}
	for i := range res.Expired {
		g.annotation(ew, "warning", finding.Location{}, "attest: expired exemption", expiredText(&res.Expired[i]))
	}
	if ew.err != nil {
		return ew.err
	}
	if g.o.stepSummary == "" {
		return nil
	}
	f, err := os.OpenFile(g.o.stepSummary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	if err := g.summary(f, res); err != nil {
		_ = f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	return f.Close()
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "<", "&lt;")
	s = strings.ReplaceAll(s, "\n", "<br>")
	if s == "" {
		return "-"
	}
	return s
}

// mdCode is a code span in a table cell: no HTML escaping inside, but the
// pipe still needs its backslash in GitHub's tables.
func mdCode(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, "`", "'"), "|", `\|`) + "`"
}

// summary is the Markdown for $GITHUB_STEP_SUMMARY: the counts, the failing
// findings, the other reported findings, exemptions (emergency overrides
// flagged), expired exemptions and errors.
func (g *githubReporter) summary(w io.Writer, res *finding.Result) error {
	ew := &errWriter{w: w}
	s := res.Summary
	verdict := "passed"
	if !s.Passed {
		verdict = "failed"
	}
	ew.printf("## attest policy check: %s\n\n", verdict)
	ew.printf("%s\n\n", summaryLine(res))
	ew.write("| Resources | Files | Violations | Warnings | Dry-run | Exempted | Errors |\n")
	ew.write("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	ew.printf("| %d | %d | %d | %d | %d | %d | %d |\n", res.Resources, len(res.Files), s.Violations, s.Warnings, s.Dryrun, s.Exempted, s.Errors)

	var failing, other, exempted, evalErrors []*finding.Finding
	for i := range res.Findings {
		f := &res.Findings[i]
		switch {
		case f.Exempted() && f.Kind != finding.KindError:
			exempted = append(exempted, f)
		case f.Kind == finding.KindError:
			evalErrors = append(evalErrors, f)
		case g.o.fails(f):
			failing = append(failing, f)
		default:
			other = append(other, f)
		}
	}
	table := func(heading string, fs []*finding.Finding) {
		if len(fs) == 0 {
			return
		}
		ew.printf("\n### %s (%d)\n\n", heading, len(fs))
		ew.write("| Level | Severity | Rule | Resource | Location | Message |\n")
		ew.write("| --- | --- | --- | --- | --- | --- |\n")
		for _, f := range fs {
			ew.printf("| %s | %s | %s | %s | %s | %s |\n", Level(f), f.Severity, mdCode(ruleLabel(f)),
				mdCode(resourceRef(f.Resource)), mdCode(g.mdLocation(f.Location)), mdCell(f.Message))
		}
	}
	table("Failing findings", failing)
	table("Other findings (not failing)", other)
	if len(exempted) > 0 {
		ew.printf("\n### Exempted findings (%d)\n\n", len(exempted))
		if n := emergencyCount(res); n > 0 {
			ew.printf("> [!CAUTION]\n> **EMERGENCY OVERRIDE**: %s bypassed by break-glass exemptions.\n\n", plural(n, "finding", "findings"))
		}
		ew.write("| Rule | Resource | Location | Exemption | Approved by | Expires | Reason |\n")
		ew.write("| --- | --- | --- | --- | --- | --- | --- |\n")
		for _, f := range exempted {
			e := f.Exemption
			src := e.Source
			if e.ID != "" {
				src += " (" + e.ID + ")"
			}
			if e.Emergency {
				src = "**EMERGENCY OVERRIDE** " + mdCell(src)
			} else {
				src = mdCell(src)
			}
			ew.printf("| %s | %s | %s | %s | %s | %s | %s |\n", mdCode(ruleLabel(f)), mdCode(resourceRef(f.Resource)),
				mdCode(g.mdLocation(f.Location)), src, mdCell(e.ApprovedBy), mdCell(formatDate(e)), mdCell(e.Reason))
		}
	}
	if len(res.Expired) > 0 {
		ew.printf("\n### Expired exemptions (%d)\n\n", len(res.Expired))
		for i := range res.Expired {
			ew.printf("- %s\n", mdCell(expiredText(&res.Expired[i])))
		}
	}
	if n := len(res.Errors) + len(evalErrors); n > 0 {
		ew.printf("\n### Errors (%d)\n\n", n)
		for i := range res.Errors {
			e := &res.Errors[i]
			ew.printf("- %s: %s\n", mdCode(g.mdLocation(e.Location)), mdCell(e.Message))
		}
		for _, f := range evalErrors {
			ew.printf("- %s: %s %s: %s\n", mdCode(g.mdLocation(f.Location)), mdCode(ruleLabel(f)), mdCode(resourceRef(f.Resource)), mdCell(f.Message))
		}
	}
	if len(res.Notes) > 0 {
		ew.printf("\n### Notes (%d)\n\n", len(res.Notes))
		for i := range res.Notes {
			n := &res.Notes[i]
			ew.printf("- %s: %s\n", mdCode(g.mdLocation(n.Location)), mdCell(n.Message))
		}
	}
	ew.write("\n")
	return ew.err
}

func (g *githubReporter) mdLocation(l finding.Location) string {
	if l.File == "" {
		return ""
	}
	l.File = g.o.displayPath(l.File)
	return l.String()
}
