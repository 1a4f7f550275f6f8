package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/continuums/attest/internal/finding"
)

// codeQualityReporter writes GitLab's Code Quality report (a subset of the
// Code Climate issue format): a JSON array of issues. Code Quality has no
// notion of suppression, so exempted findings are kept with severity "info"
// and a description starting "[exempted]"; input errors are issues with
// check_name "attest/input-error". Notes and expired exemptions are not
// issues and are left out.
type codeQualityReporter struct{ o *options }

type cqIssue struct {
	Type        string     `json:"type"`
	CheckName   string     `json:"check_name"`
	Description string     `json:"description"`
	Content     *cqContent `json:"content,omitempty"`
	Categories  []string   `json:"categories"`
	Severity    string     `json:"severity"`
	Fingerprint string     `json:"fingerprint"`
	EngineName  string     `json:"engine_name"`
	Location    cqLocation `json:"location"`
}

type cqContent struct {
	Body string `json:"body"`
}

type cqLocation struct {
	Path  string  `json:"path"`
	Lines cqLines `json:"lines"`
}

type cqLines struct {
	Begin int `json:"begin"`
}

func (c *codeQualityReporter) Report(w io.Writer, res *finding.Result) error {
	issues := []cqIssue{}
	rules := res.RuleByID()
	fps := fingerprints(c.o, res)
	for i := range res.Findings {
		f := &res.Findings[i]
		sev := codeQualitySeverity(f.Severity)
		desc := oneLine(f.Message)
		if ref := resourceRef(f.Resource); ref != "" {
			desc += " (" + ref + ")"
		}
		if f.Constraint != "" {
			desc += " [constraint " + f.Constraint + "]"
		}
		switch {
		case f.Kind == finding.KindError:
			sev = "critical"
		case f.Exempted():
			sev = "info"
			prefix := "[exempted] "
			if f.Exemption.Emergency {
				prefix = "[exempted: EMERGENCY OVERRIDE] "
			}
			desc = prefix + desc
		}
		issue := cqIssue{
			Type: "issue", CheckName: ruleID(f), Description: desc, Categories: []string{"Security"},
			Severity: sev, Fingerprint: fps[i], EngineName: ToolName,
			Location: cqLocation{Path: c.o.displayPath(f.Location.File), Lines: cqLines{Begin: max(f.Location.Line, 1)}},
		}
		if r := rules[f.Rule]; r != nil && (r.Description != "" || r.Remediation != "") {
			body := r.Description
			if r.Remediation != "" {
				if body != "" {
					body += "\n\n"
				}
				body += "Remediation: " + r.Remediation
			}
			issue.Content = &cqContent{Body: body}
		}
		if e := f.Exemption; e != nil {
			body := exemptionText(e)
			if issue.Content != nil {
				body = issue.Content.Body + "\n\n" + body
			}
			issue.Content = &cqContent{Body: body}
		}
		issues = append(issues, issue)
	}
	seen := map[string]int{}
	for i := range res.Errors {
		e := &res.Errors[i]
		key := e.Location.File + "\x00" + e.Message
		n := seen[key]
		seen[key] = n + 1
		sum := sha256.Sum256(fmt.Appendf(nil, "attest/input-error\x00%s\x00%d", key, n))
		issues = append(issues, cqIssue{
			Type: "issue", CheckName: "attest/input-error", Description: oneLine(e.Message), Categories: []string{"Bug Risk"},
			Severity: "critical", Fingerprint: hex.EncodeToString(sum[:16]), EngineName: ToolName,
			Location: cqLocation{Path: c.o.displayPath(orDash(e.Location.File)), Lines: cqLines{Begin: max(e.Location.Line, 1)}},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(issues)
}
