// Package report renders a finding.Result in the formats CI systems read:
// text for people, a versioned JSON schema, SARIF 2.1.0 for GitHub code
// scanning, JUnit XML and Code Quality JSON for GitLab, TAP, and GitHub
// workflow commands with a Markdown step summary. One format per file, all
// behind Reporter. docs/report-formats.md documents every format and the
// severity mappings.
//
// Reporters never decide the exit code: the decision package has already
// filled Result.Summary. They only need a per-finding level (Level) and
// whether a finding fails (WithFailFunc, default: Level is "error").
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/continuums/attest/internal/finding"
)

// Reporter writes one Result in one format.
type Reporter interface {
	Report(w io.Writer, res *finding.Result) error
}

// Format names, as --format takes them.
const (
	FormatText        = "text"
	FormatJSON        = "json"
	FormatSARIF       = "sarif"
	FormatJUnit       = "junit"
	FormatTAP         = "tap"
	FormatGitHub      = "github"
	FormatCodeQuality = "codequality"
)

// Formats lists the valid format names in the order the help text shows them.
func Formats() []string {
	return []string{FormatText, FormatJSON, FormatSARIF, FormatJUnit, FormatTAP, FormatGitHub, FormatCodeQuality}
}

// ToolName is the driver name in SARIF and the tool name in JSON.
const ToolName = "attest"

type options struct {
	color       bool
	quiet       bool
	toolVersion string
	stepSummary string
	baseDir     string
	fails       func(*finding.Finding) bool
}

// Option configures a Reporter.
type Option func(*options)

// WithColor turns on ANSI colours in the text format. The caller decides:
// stdout is a terminal and neither --no-color nor NO_COLOR is set.
func WithColor(on bool) Option { return func(o *options) { o.color = on } }

// WithToolVersion sets the version reported as the SARIF driver's version
// and in the JSON report's "tool" object.
func WithToolVersion(v string) Option { return func(o *options) { o.toolVersion = v } }

// WithStepSummary makes the github format also append a Markdown summary to
// path (the value of $GITHUB_STEP_SUMMARY). Empty means no summary.
func WithStepSummary(path string) Option { return func(o *options) { o.stepSummary = path } }

// WithQuiet makes the text format print only failing findings, errors and the
// summary line.
func WithQuiet(on bool) Option { return func(o *options) { o.quiet = on } }

// WithBaseDir makes absolute file paths relative to dir in the SARIF, Code
// Quality and github formats, which GitHub and GitLab need relative to the
// repository root. Paths outside dir are left as they are.
func WithBaseDir(dir string) Option { return func(o *options) { o.baseDir = dir } }

// WithFailFunc tells the reporters which findings fail the run, so that
// JUnit failures, TAP "not ok" lines, quiet text output and the JSON "fails"
// field agree with the exit code under --strict and --severity-threshold.
// The caller passes the decision package's verdict, for instance
// func(f *finding.Finding) bool { return decision.Fails(f, opts) }.
// Without it a finding fails when its Level is "error" and it is not an
// evaluation error (those are counted as errors).
func WithFailFunc(fn func(*finding.Finding) bool) Option {
	return func(o *options) { o.fails = fn }
}

// New returns the Reporter for format, or an error naming the valid formats.
func New(format string, opts ...Option) (Reporter, error) {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	if o.fails == nil {
		o.fails = defaultFails
	}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case FormatText:
		return &textReporter{o: o}, nil
	case FormatJSON:
		return &jsonReporter{o: o}, nil
	case FormatSARIF:
		return &sarifReporter{o: o}, nil
	case FormatJUnit:
		return &junitReporter{o: o}, nil
	case FormatTAP:
		return &tapReporter{o: o}, nil
	case FormatGitHub:
		return &githubReporter{o: o}, nil
	case FormatCodeQuality:
		return &codeQualityReporter{o: o}, nil
	}
	return nil, fmt.Errorf("unknown report format %q (valid formats: %s)", format, strings.Join(Formats(), ", "))
}

// Levels returned by Level. They are SARIF's result levels.
const (
	LevelError   = "error"
	LevelWarning = "warning"
	LevelNote    = "note"
)

// Level is how loudly one finding is reported, in every format:
//
//   - "error": an evaluation error (Kind error), whether or not exempted, and
//     a violation with strict enforcement that is not exempted;
//   - "note": an exempted finding, and a dryrun finding;
//   - "warning": a warn rule's result (Kind warning) and a violation with warn
//     enforcement.
//
// It does not apply --strict or a severity threshold: that is the decision
// package's verdict (see WithFailFunc).
func Level(f *finding.Finding) string {
	switch {
	case f.Kind == finding.KindError:
		return LevelError
	case f.Exempted(), f.Enforcement == finding.EnforcementDryrun:
		return LevelNote
	case f.Kind == finding.KindWarning, f.Enforcement == finding.EnforcementWarn:
		return LevelWarning
	}
	return LevelError
}

func defaultFails(f *finding.Finding) bool {
	return f.Kind != finding.KindError && Level(f) == LevelError
}

// severityScore is GitHub code scanning's security-severity for a severity:
// GitHub reads over 9.0 as critical, 7.0 to 8.9 high, 4.0 to 6.9 medium and
// 0.1 to 3.9 low. Info has no band of its own and shows as low.
func severityScore(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return "9.5"
	case finding.SeverityHigh:
		return "8.0"
	case finding.SeverityLow:
		return "3.0"
	case finding.SeverityInfo:
		return "1.0"
	}
	return "5.5" // medium, and unknown as the default severity
}

// severityLevel is the SARIF defaultConfiguration level of a rule.
func severityLevel(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical, finding.SeverityHigh:
		return LevelError
	case finding.SeverityInfo:
		return LevelNote
	}
	return LevelWarning
}

// codeQualitySeverity maps a severity onto GitLab Code Quality's five.
func codeQualitySeverity(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return "blocker"
	case finding.SeverityHigh:
		return "critical"
	case finding.SeverityLow:
		return "minor"
	case finding.SeverityInfo:
		return "info"
	}
	return "major"
}

// ruleLabel is "policy/rule" for the text-like formats; rule ids usually
// already start with their policy.
func ruleLabel(f *finding.Finding) string {
	var label string
	switch {
	case f.Rule == "":
		label = f.Policy
	case f.Policy == "" || strings.HasPrefix(f.Rule, f.Policy+"/"):
		label = f.Rule
	default:
		label = f.Policy + "/" + f.Rule
	}
	// Two constraints of one Gatekeeper template are one rule; the
	// constraint says which of them fired.
	if f.Constraint != "" {
		label += ", constraint " + f.Constraint
	}
	return label
}

// ruleID is the id a finding is reported under in SARIF and Code Quality.
func ruleID(f *finding.Finding) string {
	if f.Rule != "" {
		return f.Rule
	}
	if f.Policy != "" {
		return f.Policy
	}
	return "attest"
}

// resourceRef is Kind/ns/name, or "" when the finding names no resource.
func resourceRef(r finding.ResourceRef) string {
	if r.Kind == "" && r.Name == "" {
		return ""
	}
	return r.String()
}

const stdinName = "-"

// displayPath makes a path fit for a CI system: relative to the base dir when
// it is absolute and inside it, slash-separated, and "stdin" for "-".
func (o *options) displayPath(p string) string {
	if p == stdinName {
		return "stdin"
	}
	if o.baseDir != "" && filepath.IsAbs(p) {
		base := o.baseDir
		if abs, err := filepath.Abs(base); err == nil {
			base = abs
		}
		if rel, err := filepath.Rel(base, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			p = rel
		}
	}
	return filepath.ToSlash(p)
}

// fileURI is a SARIF artifact URI: a relative reference with reserved
// characters escaped, or a file:// URI for an absolute path.
func fileURI(p string) (uri string, relative bool) {
	if p == "stdin" {
		return p, false
	}
	if strings.HasPrefix(p, "/") || filepath.IsAbs(filepath.FromSlash(p)) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // Windows drive letter
		}
		return (&url.URL{Scheme: "file", Path: p}).String(), false
	}
	return (&url.URL{Path: p}).String(), true
}

// locString is Location.String with stdin shown as "stdin" rather than "-".
func locString(l finding.Location) string {
	if l.File == stdinName {
		l.File = "stdin"
	}
	return l.String()
}

// fingerprints computes, for each finding, a hash of what identifies it
// independently of where it sits in the file: the rule id, the file, the
// resource and the message. Moving a resource up or down keeps its
// fingerprint; identical findings in one run get an occurrence suffix so no
// two share one.
func fingerprints(o *options, res *finding.Result) []string {
	out := make([]string, len(res.Findings))
	seen := make(map[string]int, len(res.Findings))
	for i := range res.Findings {
		f := &res.Findings[i]
		key := strings.Join([]string{ruleID(f), o.displayPath(f.Location.File), f.Resource.APIVersion, f.Resource.String(), f.Message}, "\x00")
		n := seen[key]
		seen[key] = n + 1
		if n > 0 {
			key += fmt.Sprintf("\x00%d", n)
		}
		sum := sha256.Sum256([]byte(key))
		out[i] = hex.EncodeToString(sum[:16])
	}
	return out
}

// fileGroup is the findings, errors and notes of one file, for the formats
// that group by file.
type fileGroup struct {
	file     string
	findings []*finding.Finding
	errors   []*finding.Error
	notes    []*finding.Note
}

// groupByFile puts the files of res.Files first, in order, then any other
// file named by a finding, error or note in the order first seen. Items with
// no file at all come last, under "".
func groupByFile(res *finding.Result) []*fileGroup {
	var groups []*fileGroup
	idx := map[string]int{}
	get := func(file string) *fileGroup {
		if i, ok := idx[file]; ok {
			return groups[i]
		}
		idx[file] = len(groups)
		g := &fileGroup{file: file}
		groups = append(groups, g)
		return g
	}
	for _, f := range res.Files {
		if f != "" {
			get(f)
		}
	}
	var noFile *fileGroup
	pick := func(file string) *fileGroup {
		if file == "" {
			if noFile == nil {
				noFile = &fileGroup{}
			}
			return noFile
		}
		return get(file)
	}
	for i := range res.Findings {
		g := pick(res.Findings[i].Location.File)
		g.findings = append(g.findings, &res.Findings[i])
	}
	for i := range res.Errors {
		g := pick(res.Errors[i].Location.File)
		g.errors = append(g.errors, &res.Errors[i])
	}
	for i := range res.Notes {
		g := pick(res.Notes[i].Location.File)
		g.notes = append(g.notes, &res.Notes[i])
	}
	if noFile != nil {
		groups = append(groups, noFile)
	}
	return groups
}

// allRules returns the rule metadata sorted by id, plus a bare entry for
// every rule id seen only in findings.
func allRules(res *finding.Result) []finding.Rule {
	rules := slices.Clone(res.Rules)
	known := make(map[string]bool, len(rules))
	for _, r := range rules {
		known[r.ID] = true
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		id := ruleID(f)
		if !known[id] {
			known[id] = true
			rules = append(rules, finding.Rule{ID: id, Policy: f.Policy, Severity: f.Severity})
		}
	}
	slices.SortStableFunc(rules, func(a, b finding.Rule) int { return strings.Compare(a.ID, b.ID) })
	return rules
}

// exemptionText is "exempted by annotation, approved by X until DATE: reason".
func exemptionText(e *finding.Exemption) string {
	var b strings.Builder
	b.WriteString("exempted by ")
	b.WriteString(e.Source)
	if e.ID != "" {
		fmt.Fprintf(&b, " (%s)", e.ID)
	}
	if e.ApprovedBy != "" {
		b.WriteString(", approved by ")
		b.WriteString(e.ApprovedBy)
	}
	if e.ExpiresAt != nil {
		b.WriteString(" until ")
		b.WriteString(formatDate(e))
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// expiredText describes an exemption that has run out.
func expiredText(e *finding.Exemption) string {
	var b strings.Builder
	b.WriteString("exemption")
	if e.ID != "" {
		fmt.Fprintf(&b, " %s", e.ID)
	}
	fmt.Fprintf(&b, " from %s", e.Source)
	if e.ApprovedBy != "" {
		fmt.Fprintf(&b, ", approved by %s", e.ApprovedBy)
	}
	if e.ExpiresAt != nil {
		fmt.Fprintf(&b, ", expired %s", formatDate(e))
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	return b.String()
}

func formatDate(e *finding.Exemption) string {
	if e.ExpiresAt == nil {
		return ""
	}
	return e.ExpiresAt.UTC().Format("2006-01-02")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// summaryLine is "12 resources in 5 files: 3 violations, 2 warnings, 1
// exempted, 0 errors", with the dry-run count when there is one.
func summaryLine(res *finding.Result) string {
	s := res.Summary
	parts := []string{plural(s.Violations, "violation", "violations"), plural(s.Warnings, "warning", "warnings")}
	if s.Dryrun > 0 {
		parts = append(parts, fmt.Sprintf("%d dry-run", s.Dryrun))
	}
	parts = append(parts, fmt.Sprintf("%d exempted", s.Exempted), plural(s.Errors, "error", "errors"))
	return fmt.Sprintf("%s in %s: %s", plural(res.Resources, "resource", "resources"),
		plural(len(res.Files), "file", "files"), strings.Join(parts, ", "))
}

// errWriter keeps the first write error so formatting code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func (e *errWriter) write(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

// oneLine folds a multi-line message for formats that need one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// lineText is oneLine made printable: what text and TAP print.
func lineText(s string) string { return Printable(oneLine(s)) }

// Printable writes control characters, bidirectional overrides and bytes
// that are not UTF-8 as escapes (\x1b, \n, \u202e, \x9b). What the
// text-like formats print comes from manifests, file names and policies,
// which may be anyone's pull request: a resource name must not recolour
// the terminal, move the cursor, forge a line of output (a "PASS", a TAP
// "ok") or reorder what a reviewer reads.
func Printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unsafeRune(r):
			b.WriteString(s[i : i+size])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// PrintableLines is Printable line by line: the line breaks stay.
func PrintableLines(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = Printable(l)
	}
	return strings.Join(lines, "\n")
}

// unsafeRune: C0 and C1 controls, DEL, and the bidirectional embeddings,
// overrides and isolates ("Trojan Source").
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
