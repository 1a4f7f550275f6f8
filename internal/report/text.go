package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/continuums/attest/internal/finding"
)

// textReporter writes the human format: findings grouped by file, then
// expired exemptions and a summary line.
type textReporter struct{ o *options }

// ANSI SGR sequences; only written with WithColor(true).
const (
	ansiReset     = "\x1b[0m"
	ansiBold      = "\x1b[1m"
	ansiDim       = "\x1b[2m"
	ansiRed       = "\x1b[31m"
	ansiGreen     = "\x1b[32m"
	ansiYellow    = "\x1b[33m"
	ansiCyan      = "\x1b[36m"
	ansiEmergency = "\x1b[1;97;41m" // bold white on red
)

func (t *textReporter) paint(code, s string) string {
	if !t.o.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

// label is the first column: the level, or EXEMPT / DRYRUN where that says
// more.
func textLabel(f *finding.Finding) (string, string) {
	switch {
	case f.Kind == finding.KindError:
		return "ERROR", ansiRed
	case f.Exempted():
		return "EXEMPT", ansiDim
	case f.Enforcement == finding.EnforcementDryrun:
		return "DRYRUN", ansiCyan
	}
	switch Level(f) {
	case LevelWarning:
		return "WARNING", ansiYellow
	case LevelNote:
		return "NOTE", ansiCyan
	}
	return "ERROR", ansiRed
}

func (t *textReporter) Report(w io.Writer, res *finding.Result) error {
	ew := &errWriter{w: w}
	const indent = "           " // under the message, past label and severity
	first := true
	for _, g := range groupByFile(res) {
		var lines []string
		for _, f := range g.findings {
			failing := t.o.fails(f)
			if t.o.quiet && !failing && f.Kind != finding.KindError {
				continue
			}
			label, colour := textLabel(f)
			loc := Printable(locString(f.Location))
			if loc == "" {
				loc = "-"
			}
			line := fmt.Sprintf("  %s %-8s %s  %s %s", t.paint(colour, fmt.Sprintf("%-7s", label)), f.Severity,
				loc, t.paint(ansiBold, "["+Printable(ruleLabel(f))+"]"), lineText(f.Message))
			if ref := resourceRef(f.Resource); ref != "" {
				line += " (" + Printable(ref) + ")"
			}
			lines = append(lines, line)
			if f.Location.Field != "" && !t.o.quiet {
				lines = append(lines, indent+"field: "+Printable(f.Location.Field))
			}
			if e := f.Exemption; e != nil {
				text := lineText(exemptionText(e))
				if e.Emergency {
					lines = append(lines, indent+t.paint(ansiEmergency, "EMERGENCY OVERRIDE")+" "+text)
				} else {
					lines = append(lines, indent+t.paint(ansiDim, text))
				}
			}
		}
		for _, e := range g.errors {
			lines = append(lines, fmt.Sprintf("  %s %-8s %s  %s", t.paint(ansiRed, fmt.Sprintf("%-7s", "ERROR")), "", orDash(Printable(locString(e.Location))), lineText(e.Message)))
		}
		if !t.o.quiet {
			for _, n := range g.notes {
				lines = append(lines, fmt.Sprintf("  %s %-8s %s  %s", t.paint(ansiCyan, fmt.Sprintf("%-7s", "NOTE")), "", orDash(Printable(locString(n.Location))), lineText(n.Message)))
			}
		}
		if len(lines) == 0 {
			continue
		}
		if !first {
			ew.write("\n")
		}
		first = false
		name := Printable(g.file)
		switch name {
		case "":
			name = "(no file)"
		case stdinName:
			name = "- (stdin)"
		}
		ew.write(t.paint(ansiBold, name) + "\n")
		for _, l := range lines {
			ew.write(strings.TrimRight(l, " ") + "\n")
		}
	}
	if len(res.Expired) > 0 && !t.o.quiet {
		if !first {
			ew.write("\n")
		}
		first = false
		ew.write(t.paint(ansiBold, "Expired exemptions (renew or remove them)") + "\n")
		for i := range res.Expired {
			ew.write("  " + t.paint(ansiYellow, "EXPIRED") + " " + lineText(expiredText(&res.Expired[i])) + "\n")
		}
	}
	if n := emergencyCount(res); n > 0 {
		if !first {
			ew.write("\n")
		}
		first = false
		ew.write(t.paint(ansiEmergency, fmt.Sprintf("EMERGENCY OVERRIDE: %s bypassed by break-glass exemptions", plural(n, "finding", "findings"))) + "\n")
	}
	if !first {
		ew.write("\n")
	}
	colour := ansiGreen
	if !res.Summary.Passed {
		colour = ansiRed
	}
	ew.write(t.paint(colour, summaryLine(res)) + "\n")
	return ew.err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func emergencyCount(res *finding.Result) int {
	n := 0
	for i := range res.Findings {
		if e := res.Findings[i].Exemption; e != nil && e.Emergency {
			n++
		}
	}
	return n
}
