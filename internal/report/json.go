package report

import (
	_ "embed" // the JSON Schema of the json format
	"encoding/json"
	"io"
	"time"

	"github.com/continuums/attest/internal/finding"
)

// JSONSchemaVersion is the "schema_version" of the json format. It changes
// only when a field is removed or changes meaning; new fields may be added
// within a version.
const JSONSchemaVersion = "1"

//go:embed schema/report-v1.json
var jsonSchemaV1 string

// JSONSchema returns the JSON Schema (draft-07) of the json format.
func JSONSchema() string { return jsonSchemaV1 }

type jsonReporter struct{ o *options }

// The types below are the json format. Every array is always present (empty,
// never null) so consumers need no null checks.
type jsonReport struct {
	SchemaVersion string `json:"schema_version"`
	Tool          struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	} `json:"tool"`
	Passed       bool              `json:"passed"`
	Violations   int               `json:"violations"`
	Warnings     int               `json:"warnings"`
	Dryrun       int               `json:"dryrun"`
	Exempted     int               `json:"exempted"`
	Errors       int               `json:"errors"`
	Resources    int               `json:"resources"`
	Summary      jsonSummary       `json:"summary"`
	Files        []string          `json:"files"`
	Findings     []jsonFinding     `json:"findings"`
	Rules        []jsonRule        `json:"rules"`
	Notes        []jsonMessage     `json:"notes"`
	ErrorsDetail []jsonMessage     `json:"errors_detail"`
	Expired      []jsonExemption   `json:"expired_exemptions"`
	Emergency    int               `json:"emergency_overrides"`
	Policies     map[string]jsonPC `json:"policies"`
}

type jsonSummary struct {
	Passed     bool `json:"passed"`
	Resources  int  `json:"resources"`
	Files      int  `json:"files"`
	Findings   int  `json:"findings"`
	Violations int  `json:"violations"`
	Warnings   int  `json:"warnings"`
	Dryrun     int  `json:"dryrun"`
	Exempted   int  `json:"exempted"`
	Errors     int  `json:"errors"`
}

// jsonPC counts findings per policy, by level.
type jsonPC struct {
	Findings int `json:"findings"`
	Failing  int `json:"failing"`
	Exempted int `json:"exempted"`
}

type jsonLocation struct {
	File     string `json:"file"`
	Document int    `json:"document"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Field    string `json:"field,omitempty"`
}

type jsonResource struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
	Ref        string `json:"ref,omitempty"`
}

type jsonExemption struct {
	Source     string `json:"source"`
	ID         string `json:"id,omitempty"`
	Reason     string `json:"reason"`
	ApprovedBy string `json:"approved_by"`
	ExpiresAt  string `json:"expires_at,omitempty"`
	Emergency  bool   `json:"emergency"`
}

type jsonFinding struct {
	Policy      string         `json:"policy"`
	Rule        string         `json:"rule"`
	Engine      string         `json:"engine,omitempty"`
	Constraint  string         `json:"constraint,omitempty"`
	Kind        string         `json:"kind"`
	Severity    string         `json:"severity"`
	Enforcement string         `json:"enforcement"`
	Level       string         `json:"level"`
	Fails       bool           `json:"fails"`
	Exempted    bool           `json:"exempted"`
	Message     string         `json:"message"`
	Resource    jsonResource   `json:"resource"`
	Location    jsonLocation   `json:"location"`
	Details     map[string]any `json:"details,omitempty"`
	Exemption   *jsonExemption `json:"exemption,omitempty"`
	Fingerprint string         `json:"fingerprint"`
}

type jsonRule struct {
	ID          string   `json:"id"`
	Policy      string   `json:"policy,omitempty"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
	Severity    string   `json:"severity"`
	Kinds       []string `json:"kinds,omitempty"`
	Controls    []string `json:"controls,omitempty"`
	HelpURI     string   `json:"help_uri,omitempty"`
}

type jsonMessage struct {
	Location jsonLocation `json:"location"`
	Message  string       `json:"message"`
}

func toJSONLocation(l finding.Location) jsonLocation {
	return jsonLocation{File: l.File, Document: l.Document, Line: l.Line, Column: l.Column, Field: l.Field}
}

func toJSONExemption(e *finding.Exemption) *jsonExemption {
	if e == nil {
		return nil
	}
	j := &jsonExemption{Source: e.Source, ID: e.ID, Reason: e.Reason, ApprovedBy: e.ApprovedBy, Emergency: e.Emergency}
	if e.ExpiresAt != nil {
		j.ExpiresAt = e.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return j
}

func (j *jsonReporter) build(res *finding.Result) *jsonReport {
	s := res.Summary
	r := &jsonReport{
		SchemaVersion: JSONSchemaVersion,
		Passed:        s.Passed,
		Violations:    s.Violations,
		Warnings:      s.Warnings,
		Dryrun:        s.Dryrun,
		Exempted:      s.Exempted,
		Errors:        s.Errors,
		Resources:     res.Resources,
		Summary: jsonSummary{
			Passed: s.Passed, Resources: res.Resources, Files: len(res.Files), Findings: len(res.Findings),
			Violations: s.Violations, Warnings: s.Warnings, Dryrun: s.Dryrun, Exempted: s.Exempted, Errors: s.Errors,
		},
		Files:        append([]string{}, res.Files...),
		Findings:     make([]jsonFinding, 0, len(res.Findings)),
		Rules:        []jsonRule{},
		Notes:        []jsonMessage{},
		ErrorsDetail: []jsonMessage{},
		Expired:      []jsonExemption{},
		Policies:     map[string]jsonPC{},
	}
	r.Tool.Name = ToolName
	r.Tool.Version = j.o.toolVersion
	fps := fingerprints(j.o, res)
	for i := range res.Findings {
		f := &res.Findings[i]
		fails := j.o.fails(f)
		r.Findings = append(r.Findings, jsonFinding{
			Policy: f.Policy, Rule: f.Rule, Engine: f.Engine, Constraint: f.Constraint,
			Kind: string(f.Kind), Severity: f.Severity.String(), Enforcement: string(f.Enforcement),
			Level: Level(f), Fails: fails, Exempted: f.Exempted(), Message: f.Message,
			Resource: jsonResource{APIVersion: f.Resource.APIVersion, Kind: f.Resource.Kind,
				Namespace: f.Resource.Namespace, Name: f.Resource.Name, Ref: resourceRef(f.Resource)},
			Location:    toJSONLocation(f.Location),
			Details:     f.Details,
			Exemption:   toJSONExemption(f.Exemption),
			Fingerprint: fps[i],
		})
		pc := r.Policies[f.Policy]
		pc.Findings++
		if fails {
			pc.Failing++
		}
		if f.Exempted() {
			pc.Exempted++
		}
		r.Policies[f.Policy] = pc
		if f.Exemption != nil && f.Exemption.Emergency {
			r.Emergency++
		}
	}
	for _, ru := range allRules(res) {
		r.Rules = append(r.Rules, jsonRule{ID: ru.ID, Policy: ru.Policy, Title: ru.Title, Description: ru.Description,
			Remediation: ru.Remediation, Severity: ru.Severity.String(), Kinds: ru.Kinds, Controls: ru.Controls, HelpURI: ru.HelpURI})
	}
	for _, n := range res.Notes {
		r.Notes = append(r.Notes, jsonMessage{Location: toJSONLocation(n.Location), Message: n.Message})
	}
	for _, e := range res.Errors {
		r.ErrorsDetail = append(r.ErrorsDetail, jsonMessage{Location: toJSONLocation(e.Location), Message: e.Message})
	}
	for i := range res.Expired {
		r.Expired = append(r.Expired, *toJSONExemption(&res.Expired[i]))
	}
	return r
}

func (j *jsonReporter) Report(w io.Writer, res *finding.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j.build(res))
}
