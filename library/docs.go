package library

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Policy describes one policy of a library: a Rego package with result
// rules, named as the engine names it.
type Policy struct {
	Name        string // custom.policy of the package METADATA, else the package with dots as dashes
	Package     string // e.g. attest.security
	Title       string
	Description string
	Files       []string // the package's non-test files
	Parameters  []Parameter
	Rules       []Rule
}

// Parameter is one entry of a package's custom.parameters METADATA.
type Parameter struct {
	Name        string
	Type        string
	Default     string
	Description string
}

// Rule describes one body of a result rule (violation, deny, warn) from its
// METADATA.
type Rule struct {
	ID          string // custom.id; the engine names the rule <policy>/<id>
	Title       string
	Description string
	Severity    string // custom.severity
	Remediation string // custom.remediation
	Kinds       []string
	Controls    []string
	Related     []string // related_resources
	File        string
	Line        int
}

// Helper documents a helper rule from the comment block above its first
// definition.
type Helper struct {
	Package string
	Name    string
	Doc     string
	File    string
}

// resultRules are the rule names that produce findings.
var resultRules = []string{"violation", "deny", "warn"}

// IsResultRule reports whether r is a body of a partial set rule named
// violation, deny or warn, the rules the engine turns into findings.
func IsResultRule(r *ast.Rule) bool {
	if len(r.Head.Reference) != 1 || r.Head.Key == nil || r.Head.Value != nil {
		return false
	}
	v, ok := r.Head.Reference[0].Value.(ast.Var)
	return ok && slices.Contains(resultRules, string(v))
}

// parse reads a library file as the engine does: Rego v1, else v0 with the
// `in` keyword, with METADATA annotations.
func parse(name string, src []byte) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{
		RegoVersion: ast.RegoV1, ProcessAnnotation: true,
	})
	if err == nil {
		return m, nil
	}
	m, err0 := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{
		RegoVersion: ast.RegoV0, FutureKeywords: []string{"in"}, ProcessAnnotation: true,
	})
	if err0 != nil {
		return nil, err
	}
	return m, nil
}

type parsed struct {
	path string
	mod  *ast.Module
}

func parseAll(fsys fs.FS) ([]parsed, error) {
	var out []parsed
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		m, err := parse(p, src)
		if err != nil {
			return err
		}
		out = append(out, parsed{p, m})
		return nil
	})
	return out, err
}

// Describe reads the METADATA of every policy in fsys (test files
// excluded), sorted by policy name, rules in file and line order.
func Describe(fsys fs.FS) ([]Policy, error) {
	mods, err := parseAll(fsys)
	if err != nil {
		return nil, err
	}
	byPkg := map[string]*Policy{}
	var order []string
	for _, pm := range mods {
		pkg := strings.TrimPrefix(pm.mod.Package.Path.String(), "data.")
		p := byPkg[pkg]
		if p == nil {
			p = &Policy{Package: pkg, Name: strings.ReplaceAll(pkg, ".", "-")}
			byPkg[pkg] = p
			order = append(order, pkg)
		}
		p.Files = append(p.Files, pm.path)
		for _, a := range pm.mod.Annotations {
			if a.Scope != "package" && a.Scope != "subpackages" {
				continue
			}
			p.Title = cmp.Or(a.Title, p.Title)
			p.Description = cmp.Or(strings.TrimSpace(a.Description), p.Description)
			if n, ok := a.Custom["policy"].(string); ok && n != "" {
				p.Name = n
			}
			p.Parameters = append(p.Parameters, parameters(a.Custom["parameters"])...)
		}
		for _, r := range pm.mod.Rules {
			if !IsResultRule(r) {
				continue
			}
			rule := Rule{File: pm.path}
			if r.Location != nil {
				rule.Line = r.Location.Row
			}
			for _, a := range r.Annotations {
				if a.Scope != "rule" && a.Scope != "document" {
					continue
				}
				rule.Title = cmp.Or(a.Title, rule.Title)
				rule.Description = cmp.Or(strings.TrimSpace(a.Description), rule.Description)
				rule.ID = cmp.Or(str(a.Custom["id"]), rule.ID)
				rule.Severity = cmp.Or(str(a.Custom["severity"]), rule.Severity)
				rule.Remediation = cmp.Or(strings.TrimSpace(str(a.Custom["remediation"])), rule.Remediation)
				rule.Kinds = append(rule.Kinds, strs(a.Custom["kinds"])...)
				rule.Controls = append(rule.Controls, strs(a.Custom["controls"])...)
				for _, rr := range a.RelatedResources {
					if rr.Ref.String() != "" {
						rule.Related = append(rule.Related, rr.Ref.String())
					}
				}
			}
			p.Rules = append(p.Rules, rule)
		}
	}
	var out []Policy
	for _, pkg := range order {
		p := byPkg[pkg]
		if len(p.Rules) == 0 {
			continue // helpers only
		}
		slices.SortStableFunc(p.Rules, func(a, b Rule) int {
			return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
		})
		slices.Sort(p.Files)
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Policy) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// documentedHelpers are the helpers the specification's rules call, and the
// library's own that users meet in reports, in the order docs list them.
var documentedHelpers = []struct{ pkg, name string }{
	{"attest.security", "get_containers"},
	{"attest.security", "has_attest_attestation"},
	{"attest.deployment", "has_attest_receipt"},
	{"attest.lib", "is_production_namespace"},
	{"attest.lib", "require_attestation"},
	{"attest.lib", "has_audit_logging_enabled"},
	{"attest.lib", "processes_personal_data"},
	{"attest.lib", "processes_phi"},
	{"attest.lib", "gdpr_required_annotations"},
	{"attest.lib", "gdpr_annotations_required"},
	{"attest.lib", "has_data_protection_annotations"},
	{"attest.context", "has_production_requirements"},
	{"attest.lib", "containers"},
	{"attest.lib", "quantity"},
}

// Helpers returns the documentation comments of the library's main
// helpers, read from the Rego source.
func Helpers(fsys fs.FS) ([]Helper, error) {
	mods, err := parseAll(fsys)
	if err != nil {
		return nil, err
	}
	var out []Helper
	for _, h := range documentedHelpers {
		found := false
		for _, pm := range mods {
			if strings.TrimPrefix(pm.mod.Package.Path.String(), "data.") != h.pkg {
				continue
			}
			for _, r := range pm.mod.Rules {
				if r.Head.Name.String() != h.name && (len(r.Head.Reference) == 0 || r.Head.Reference[0].String() != h.name) {
					continue
				}
				out = append(out, Helper{Package: h.pkg, Name: h.name, Doc: commentAbove(pm.mod, r), File: pm.path})
				found = true
				break
			}
			if found {
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("helper %s.%s not found", h.pkg, h.name)
		}
	}
	return out, nil
}

// commentAbove is the comment block that ends on the line above r.
func commentAbove(m *ast.Module, r *ast.Rule) string {
	row := r.Location.Row - 1
	var lines []string
	for i := len(m.Comments) - 1; i >= 0; i-- {
		c := m.Comments[i]
		if c.Location.Row > row {
			continue
		}
		if c.Location.Row < row {
			break
		}
		lines = append([]string{strings.TrimSpace(string(c.Text))}, lines...)
		row--
	}
	return strings.Join(lines, " ")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func parameters(v any) []Parameter {
	list, _ := v.([]any)
	var out []Parameter
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		def := ""
		if d, ok := m["default"]; ok {
			def = fmt.Sprintf("%v", d)
			if d == nil {
				def = "none"
			}
			if l, ok := d.([]any); ok && len(l) == 0 {
				def = "[]"
			}
		}
		out = append(out, Parameter{Name: str(m["name"]), Type: str(m["type"]), Default: def, Description: strings.TrimSpace(str(m["description"]))})
	}
	return out
}

// RenderDocs renders docs/policies.md from the library's METADATA and
// helper comments.
func RenderDocs(fsys fs.FS) ([]byte, error) {
	pols, err := Describe(fsys)
	if err != nil {
		return nil, err
	}
	helpers, err := Helpers(fsys)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	total := 0
	for _, p := range pols {
		total += len(p.Rules)
	}
	w("# Built-in policies\n\n")
	w("<!-- Generated from the METADATA of library/**/*.rego by `go test ./library -run TestDocsUpToDate -update`. Do not edit. -->\n\n")
	w("attest ships %d rules in %d policies, embedded in the binary (`--no-builtin` turns them off). ", total, len(pols))
	w("A rule is named `<policy>/<id>` in reports, SARIF rule ids and exemptions.\n\n")
	w("| Policy | Package | Rules | Files |\n|---|---|---|---|\n")
	for _, p := range pols {
		files := make([]string, len(p.Files))
		for i, f := range p.Files {
			files[i] = "`library/" + f + "`"
		}
		w("| [`%s`](#%s) | `%s` | %d | %s |\n", p.Name, anchor(p.Name), p.Package, len(p.Rules), strings.Join(files, ", "))
	}
	b.WriteString(introduction)
	w("\n## Helpers\n\nThe specification's rules call these helpers; their meaning is decided here (the text is the comment above each helper in the Rego source).\n\n")
	for _, h := range helpers {
		w("### `%s` (`%s`, `library/%s`)\n\n%s\n\n", h.Name, h.Package, h.File, h.Doc)
	}
	for _, p := range pols {
		w("\n## %s\n\n", p.Name)
		w("**%s**: %s\n\nPackage `%s`.\n\n", p.Title, oneLine(p.Description), p.Package)
		if len(p.Parameters) > 0 {
			w("Parameters (`.attest/policies.yaml`, `parameters:` of the policy named `%s`):\n\n| Parameter | Type | Default | Meaning |\n|---|---|---|---|\n", p.Name)
			for _, pa := range p.Parameters {
				w("| `%s` | %s | `%s` | %s |\n", pa.Name, pa.Type, pa.Default, oneLine(pa.Description))
			}
			w("\n")
		}
		w("| Rule | Title | Severity | Kinds | Controls |\n|---|---|---|---|---|\n")
		for _, r := range p.Rules {
			w("| [`%s/%s`](#%s) | %s | %s | %s | %s |\n", p.Name, r.ID, anchor(p.Name+"/"+r.ID), r.Title, r.Severity,
				strings.Join(r.Kinds, ", "), strings.Join(r.Controls, ", "))
		}
		for _, r := range p.Rules {
			w("\n### %s/%s\n\n", p.Name, r.ID)
			w("%s. Severity **%s**; `library/%s:%d`.\n\n", strings.TrimSuffix(r.Title, "."), r.Severity, r.File, r.Line)
			w("%s\n\n", oneLine(r.Description))
			w("*Remediation:* %s\n", oneLine(r.Remediation))
			if len(r.Related) > 0 {
				w("\n*See:* %s\n", strings.Join(r.Related, ", "))
			}
		}
	}
	return b.Bytes(), nil
}

// anchor is GitHub's heading anchor for a heading text.
func anchor(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

const introduction = `
## Input contract

An attest policy (these all are) is evaluated once per Kubernetes object with
this input:

` + "```" + `json
{
  "resource":   { "apiVersion": "apps/v1", "kind": "Deployment", "...": "the object as written" },
  "parameters": { "the policy's parameters from .attest/policies.yaml": "{} when none" },
  "context": {
    "mode": "cli | admission",
    "operation": "CREATE | UPDATE | DELETE | empty in the CLI",
    "require_attestation": false,
    "production_namespaces": ["production", "prod"],
    "compliance": { "soc2": {}, "gdpr": {}, "hipaa": {} }
  }
}
` + "```" + `

- ` + "`context.require_attestation`" + ` is true when the project's ` + "`image-security`" + ` policy sets
  ` + "`require_attestation: true`" + `; it turns on the attestation and receipt rules.
- ` + "`context.production_namespaces`" + ` decides what counts as production (with the ` + "`environment: production`" + ` label).
- ` + "`context.compliance`" + ` is the compliance section of the configuration (spec section 8) as written;
  every rule has a default when it is absent.

Every rule reports ` + "`{\"violated\": true, \"message\": ..., \"severity\": ..., \"details\": {...}}`" + `.
` + "`details.field`" + ` is the JSON path of the offending field (for instance
` + "`spec.template.spec.containers[1].securityContext.privileged`" + `), or of the closest existing parent
when the finding is about a missing field; reports point at that line. ` + "`details.container`" + ` names
the container. Rules that look at containers report once per container, and cover every workload kind:
Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob and PodTemplate,
including init and ephemeral containers.

The two built-ins the library calls are ` + "`attest.attestation_verified(image)`" + ` and
` + "`attest.receipt_verified(receipt, object)`" + `; with no attestation store configured both are false.

The specification's rules (sections 3 and 12) are included verbatim, in Rego v0 style; the rest of the
library is Rego v1. The specification's ` + "`attest.dynamic`" + ` example (section 12, ` + "`http.send`" + ` to a
vulnerability database) is not part of the built-in library: the library never calls the network. It is an
example of a custom policy (` + "`--policy`" + ` or ` + "`policies/`" + `); the engine refuses ` + "`http.send`" + ` to hosts that
are not allowed by configuration.

### Conventions (labels and annotations)

| Key | Where | Meaning |
|---|---|---|
| ` + "`attest.continuu.ms/receipt`" + ` | annotation on the workload | the ATTEST deployment receipt, checked with ` + "`attest.receipt_verified`" + ` |
| ` + "`environment: production`" + ` | label on the resource | production, whatever the namespace |
| ` + "`audit.attest.continuu.ms/enabled: \"true\"`" + ` | annotation or label, resource or pod template | the workload ships an audit trail |
| ` + "`gdpr.attest.continuu.ms/personal-data: \"true\"`" + ` | annotation or label, resource or pod template | the workload processes personal data |
| ` + "`data.attest.continuu.ms/classification`" + ` | annotation or label | ` + "`public`, `internal`, `confidential`, `personal`, `pii`, `sensitive-personal`, `phi`" + ` |
| ` + "`hipaa.attest.continuu.ms/phi: \"true\"`" + ` | annotation or label | the workload handles protected health information |
| ` + "`gdpr.attest.continuu.ms/lawful-basis`, `data-controller`, `retention-period`" + ` | annotations on the resource | GDPR data protection record (the list is configurable) |
| ` + "`hipaa.attest.continuu.ms/encryption-at-rest`, `encryption-in-transit`" + ` | annotations | how PHI is encrypted (anything but empty/` + "`false`/`none`" + `) |
| ` + "`owner`" + ` or ` + "`team`" + ` (or ` + "`app.kubernetes.io/owner`" + `) | label | the owning team |
| ` + "`change.attest.continuu.ms/ticket`" + ` | annotation | the change ticket that approved this version |
| ` + "`monitoring.company.com/enabled: \"true\"`" + ` | annotation | monitoring (the specification's ` + "`attest.context`" + ` rule) |
`
