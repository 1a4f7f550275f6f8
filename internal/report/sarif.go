package report

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/continuums/attest/internal/finding"
)

// SARIF constants GitHub code scanning relies on.
const (
	sarifSrcRoot = "%SRCROOT%"
	// sarifFingerprintKey names our partialFingerprints entry. GitHub keeps
	// one alert per distinct fingerprint, so a resource that moves within
	// its file keeps its alert.
	sarifFingerprintKey = "attestFindingHash/v1"
	sarifInfoURI        = "https://github.com/continuums/attest"
)

type sarifReporter struct{ o *options }

func (s *sarifReporter) Report(w io.Writer, res *finding.Result) error {
	var raw bytes.Buffer
	if err := s.build(res).Write(&raw); err != nil {
		return err
	}
	// go-sarif writes every optional array and every -1 default; drop them
	// (absent means the same in SARIF) so large runs stay small.
	dec := json.NewDecoder(&raw)
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(compactSARIF(doc, ""))
}

// sarifMinusOne reports whether -1 is SARIF's default for a property.
func sarifMinusOne(key string) bool {
	switch key {
	case "byteOffset", "charOffset", "index", "id", "parentIndex", "rank":
		return true
	}
	return false
}

// compactSARIF removes empty arrays (except the required runs and results),
// empty property bags and -1 defaults.
func compactSARIF(v any, key string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			val = compactSARIF(val, k)
			t[k] = val
			switch x := val.(type) {
			case []any:
				if len(x) == 0 && k != "runs" && k != "results" {
					delete(t, k)
				}
			case map[string]any:
				if len(x) == 0 && k == "properties" {
					delete(t, k)
				}
			case json.Number:
				if x.String() == "-1" && sarifMinusOne(k) {
					delete(t, k)
				}
			}
		}
		return t
	case []any:
		for i := range t {
			t[i] = compactSARIF(t[i], key)
		}
	}
	return v
}

func (s *sarifReporter) build(res *finding.Result) *sarif.Report {
	rep := sarif.NewReport()
	run := sarif.NewRunWithInformationURI(ToolName, sarifInfoURI)
	if v := s.o.toolVersion; v != "" {
		run.Tool.Driver.WithVersion(v)
		if strings.Trim(v, "0123456789.") == "" || strings.HasPrefix(v, "v") {
			run.Tool.Driver.WithSemanticVersion(strings.TrimPrefix(v, "v"))
		}
	}
	run.WithColumnKind("unicodeCodePoints")

	rules := allRules(res)
	index := make(map[string]int, len(rules))
	for i, r := range rules {
		index[r.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule(r))
	}

	fps := fingerprints(s.o, res)
	for i := range res.Findings {
		f := &res.Findings[i]
		id := ruleID(f)
		msg := oneLineKeep(f.Message)
		if ref := resourceRef(f.Resource); ref != "" {
			msg += " (" + ref + ")"
		}
		r := sarif.NewRuleResult(id).
			WithRuleIndex(index[id]).
			WithLevel(Level(f)).
			WithMessage(sarif.NewTextMessage(msg)).
			WithPartialFingerprints(map[string]string{sarifFingerprintKey: fps[i]})
		r.AddLocation(s.location(f.Location, f.Resource))
		props := sarif.NewPropertyBag().
			Add("severity", f.Severity.String()).
			Add("kind", string(f.Kind)).
			Add("policy", f.Policy)
		if f.Enforcement != "" {
			props.Add("enforcement", string(f.Enforcement))
		}
		if f.Engine != "" {
			props.Add("engine", f.Engine)
		}
		if f.Constraint != "" {
			props.Add("constraint", f.Constraint)
		}
		if f.Location.Field != "" {
			props.Add("field", f.Location.Field)
		}
		r.WithProperties(props)
		if e := f.Exemption; e != nil {
			r.AddSuppression(sarifSuppression(e))
		}
		run.AddResult(r)
	}

	inv := sarif.NewInvocation().WithExecutionSuccessful(len(res.Errors) == 0 && res.Summary.Errors == 0)
	for i := range res.Errors {
		e := &res.Errors[i]
		n := sarif.NewNotification().WithLevel(LevelError).WithMessage(sarif.NewTextMessage(oneLineKeep(e.Message)))
		if e.Location.File != "" {
			n.WithLocations([]*sarif.Location{s.location(e.Location, finding.ResourceRef{})})
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	for i := range res.Notes {
		nt := &res.Notes[i]
		n := sarif.NewNotification().WithLevel(LevelNote).WithMessage(sarif.NewTextMessage(oneLineKeep(nt.Message)))
		if nt.Location.File != "" {
			n.WithLocations([]*sarif.Location{s.location(nt.Location, finding.ResourceRef{})})
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	for i := range res.Expired {
		n := sarif.NewNotification().WithLevel(LevelWarning).
			WithMessage(sarif.NewTextMessage("Expired " + expiredText(&res.Expired[i])))
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	run.AddInvocation(inv)

	sm := res.Summary
	run.WithProperties(sarif.NewPropertyBag().
		Add("resources", res.Resources).
		Add("violations", sm.Violations).
		Add("warnings", sm.Warnings).
		Add("dryrun", sm.Dryrun).
		Add("exempted", sm.Exempted).
		Add("errors", sm.Errors).
		Add("passed", sm.Passed))
	rep.AddRun(run)
	return rep
}

// location is a result's physical location (never line 0) and the resource
// as a logical location.
func (s *sarifReporter) location(l finding.Location, ref finding.ResourceRef) *sarif.Location {
	p := s.o.displayPath(l.File)
	uri, relative := fileURI(p)
	al := sarif.NewArtifactLocation().WithURI(uri)
	if relative {
		al.WithURIBaseID(sarifSrcRoot)
	}
	line := l.Line
	if line < 1 {
		line = 1 // unknown: the top of the file
	}
	region := sarif.NewRegion().WithStartLine(line)
	if l.Line > 0 && l.Column > 0 {
		region.WithStartColumn(l.Column)
	}
	loc := sarif.NewLocation().WithPhysicalLocation(sarif.NewPhysicalLocation().WithArtifactLocation(al).WithRegion(region))
	if r := resourceRef(ref); r != "" {
		loc.AddLogicalLocation(sarif.NewLogicalLocation().
			WithName(ref.Name).
			WithFullyQualifiedName(r).
			WithKind("object"))
	}
	return loc
}

func sarifSuppression(e *finding.Exemption) *sarif.Suppression {
	kind := "external"
	if e.Source == "annotation" {
		kind = "inSource"
	}
	just := e.Reason
	if e.Emergency {
		just = "EMERGENCY OVERRIDE: " + just
	}
	props := sarif.NewPropertyBag().Add("source", e.Source).Add("approvedBy", e.ApprovedBy).Add("emergency", e.Emergency)
	if e.ID != "" {
		props.Add("id", e.ID)
	}
	if e.ExpiresAt != nil {
		props.Add("expiresAt", e.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z07:00"))
	}
	return sarif.NewSuppression().WithKind(kind).WithStatus("accepted").WithJustification(just).WithProperties(props)
}

// sarifRule is one reportingDescriptor: name, descriptions, help as text and
// Markdown, security-severity and tags for GitHub.
func sarifRule(r finding.Rule) *sarif.ReportingDescriptor {
	title := r.Title
	if title == "" {
		title = r.ID
	}
	full := r.Description
	if full == "" {
		full = title
	}
	d := sarif.NewRule(r.ID).
		WithName(ruleName(r.ID)).
		WithShortDescription(sarif.NewMultiformatMessageString().WithText(title)).
		WithFullDescription(sarif.NewMultiformatMessageString().WithText(full)).
		WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(severityLevel(r.Severity)))

	text := full
	md := "**" + title + "**"
	if r.Description != "" {
		md += "\n\n" + r.Description
	}
	if r.Remediation != "" {
		text += "\n\nRemediation: " + r.Remediation
		md += "\n\n**Remediation:** " + r.Remediation
	}
	if len(r.Controls) > 0 {
		text += "\n\nControls: " + strings.Join(r.Controls, ", ")
		md += "\n\n**Controls:** " + strings.Join(r.Controls, ", ")
	}
	if len(r.Kinds) > 0 {
		text += "\n\nApplies to: " + strings.Join(r.Kinds, ", ")
		md += "\n\n**Applies to:** " + strings.Join(r.Kinds, ", ")
	}
	d.WithHelp(sarif.NewMultiformatMessageString().WithText(text).WithMarkdown(md))
	if r.HelpURI != "" {
		d.WithHelpURI(r.HelpURI)
	}
	tags := []string{"security"}
	if r.Policy != "" {
		tags = append(tags, r.Policy)
	}
	tags = append(tags, r.Controls...)
	d.WithProperties(sarif.NewPropertyBag().
		Add("security-severity", severityScore(r.Severity)).
		Add("severity", r.Severity.String()).
		Add("precision", "very-high").
		WithTags(tags))
	return d
}

// ruleName turns "attest-security/privileged-container" into
// "PrivilegedContainer", the identifier-like name SARIF viewers show.
func ruleName(id string) string {
	last := id
	if i := strings.LastIndex(id, "/"); i >= 0 {
		last = id[i+1:]
	}
	var b strings.Builder
	up := true
	for _, r := range last {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "Rule"
	}
	return b.String()
}

// oneLineKeep trims a message but keeps its line breaks (SARIF messages may
// have several lines).
func oneLineKeep(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
