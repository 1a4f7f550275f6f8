// Package policy gathers Rego from every source (the built-in library,
// folders, inline config, bundles), groups it into named policies and reads
// the metadata of each rule. It does not evaluate anything: that is the
// engine's job.
package policy

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// Style says what input a policy expects.
type Style string

const (
	// StyleAttest policies get {"resource": obj, "parameters": p, "context": c}.
	StyleAttest Style = "attest"
	// StyleConftest policies get the manifest itself, as conftest gives it.
	StyleConftest Style = "conftest"
	// StyleGatekeeper policies get {"review": {...}, "parameters": p}, as
	// Gatekeeper gives a template's Rego.
	StyleGatekeeper Style = "gatekeeper"
)

// ParseStyle accepts the words config uses.
func ParseStyle(s string) (Style, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "attest":
		return StyleAttest, nil
	case "conftest":
		return StyleConftest, nil
	case "gatekeeper":
		return StyleGatekeeper, nil
	}
	return "", fmt.Errorf("unknown policy style %q (want attest, conftest or gatekeeper)", s)
}

// Module is one parsed Rego file.
type Module struct {
	Path    string
	Source  []byte
	Parsed  *ast.Module
	Test    bool // a _test.rego file, or one that holds only test_ rules
	Builtin bool // from the embedded library
}

// Package returns the module's package path without the leading "data.".
func (m *Module) Package() string { return packagePath(m.Parsed) }

// RuleSpec is one rule body that produces findings, with its metadata.
type RuleSpec struct {
	finding.Rule
	// Name is the Rego rule name (violation, deny, deny_foo, warn...).
	Name string
	// Kind is what the rule's results are: warn* rules give warnings.
	Kind finding.Kind
	// Explicit is true when the severity came from METADATA.
	Explicit bool
	// Positional is true when the id is the rule's name numbered by its
	// position among same-named rules (deny-2): adding a rule above it
	// renumbers it.
	Positional bool
	// Body is the parsed rule; the engine copies it.
	Body   *ast.Rule
	Module *Module
}

// Policy is every module of one Rego package, with its settings.
type Policy struct {
	Name        string // "attest-security"
	Package     string // "attest.security"
	Title       string
	Description string
	Style       Style
	Builtin     bool
	Modules     []*Module
	Rules       []*RuleSpec
	// HasException is true for conftest packages with an exception rule.
	HasException bool

	Enabled     bool
	Enforcement finding.Enforcement
	Parameters  map[string]any
	// Severity from config (a policy-wide default under rule METADATA).
	Severity finding.Severity
	// MetaSeverity from the package's METADATA.
	MetaSeverity finding.Severity
	// NamespacedOnly: findings on cluster-scoped kinds are dropped.
	NamespacedOnly bool

	// Engine labels the policy's findings ("gatekeeper" for
	// ConstraintTemplates); empty means the engine's own label.
	Engine string
	// Instances, when not empty, evaluate the policy once per instance
	// with the instance's own parameters, match and enforcement, instead
	// of once with Parameters: a ConstraintTemplate and its Constraints.
	// A policy with instances but none enabled produces nothing.
	Instances []Instance
}

// Instance is one configured use of a policy: a Gatekeeper Constraint.
type Instance struct {
	// Name labels the findings (finding.Constraint).
	Name        string
	Parameters  map[string]any
	Enforcement finding.Enforcement
	// Match says whether the instance applies to a resource (old is the
	// object before an UPDATE, or nil). Nil matches everything. It is
	// called from many goroutines at once, with the evaluation's context.
	// An error means the match cannot be decided (a Namespace whose labels
	// could not be read from the cluster): the instance is not evaluated
	// and the resource gets an error finding of the policy instead.
	Match func(ctx context.Context, r *manifest.Resource, old ast.Value) (bool, error)
}

// ResultRuleName reports whether a rule name produces findings: violation,
// deny and warn, and conftest's suffixed forms (deny_foo).
func ResultRuleName(name string) (finding.Kind, bool) {
	for _, p := range []string{"violation", "deny", "warn"} {
		if name == p || strings.HasPrefix(name, p+"_") {
			if p == "warn" {
				return finding.KindWarning, true
			}
			return finding.KindViolation, true
		}
	}
	return "", false
}

func packagePath(m *ast.Module) string {
	s := m.Package.Path.String()
	return strings.TrimPrefix(s, "data.")
}

// NameFor gives a package's default policy name: dots become dashes.
func NameFor(pkg string) string { return strings.ReplaceAll(pkg, ".", "-") }

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	s = nonSlug.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 60 {
		s = strings.TrimRight(s[:60], "-")
	}
	return s
}

// build groups modules into policies and reads the rule metadata.
func build(mods []*Module) ([]*Policy, []finding.Error) {
	byPkg := map[string]*Policy{}
	var order []string
	for _, m := range mods {
		if m.Test {
			continue
		}
		pkg := m.Package()
		p := byPkg[pkg]
		if p == nil {
			p = &Policy{Name: NameFor(pkg), Package: pkg, Enabled: true, Enforcement: finding.EnforcementStrict}
			byPkg[pkg] = p
			order = append(order, pkg)
		}
		p.Modules = append(p.Modules, m)
		p.Builtin = p.Builtin || m.Builtin
	}
	var errs []finding.Error
	var out []*Policy
	styles := newStyleGuesser(byPkg)
	for _, pkg := range order {
		p := byPkg[pkg]
		errs = append(errs, p.readMetadata()...)
		errs = append(errs, p.readRules()...)
		if len(p.Rules) == 0 {
			// A package of helpers only: compiled, never queried.
			continue
		}
		if p.Style == "" {
			p.Style = styles.guess(p)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Policy) int { return cmp.Compare(a.Name, b.Name) })
	return out, errs
}

// FromModules makes one policy of the given modules (all of one package)
// with the given name, reading rule metadata as Load does. Only the result
// rules named in ruleNames are kept when it is not empty: Gatekeeper
// queries `violation` alone. It is how other sources (Gatekeeper
// ConstraintTemplates) join a Set.
func FromModules(name string, style Style, mods []*Module, ruleNames ...string) (*Policy, []finding.Error) {
	p := &Policy{Name: name, Style: style, Enabled: true, Enforcement: finding.EnforcementStrict, Modules: mods}
	if len(mods) > 0 {
		p.Package = mods[0].Package()
	}
	errs := p.readMetadata()
	errs = append(errs, p.readRules()...)
	p.Name = name // METADATA does not rename a template's policy
	if len(ruleNames) > 0 {
		p.Rules = slices.DeleteFunc(p.Rules, func(r *RuleSpec) bool { return !slices.Contains(ruleNames, r.Name) })
	}
	return p, errs
}

// Add joins policies and their modules (helpers too) to the set, keeping
// the policies in name order.
func (s *Set) Add(pols []*Policy, mods []*Module) {
	s.Policies = append(s.Policies, pols...)
	s.Modules = append(s.Modules, mods...)
	slices.SortStableFunc(s.Policies, func(a, b *Policy) int { return cmp.Compare(a.Name, b.Name) })
}

// guessStyle: package main is conftest's convention; a package that reads
// input.review is written for Gatekeeper; the rest are attest policies.
// styleGuesser works out, once per package, what it reads of input and
// which packages it uses, and answers for each policy from that.
type styleGuesser struct {
	byPkg  map[string]*Policy
	bySegs map[string]string   // a package's path segments, joined by NUL -> its name in byPkg
	below  map[string][]string // a namespace's segments -> the packages under it
	reads  map[string]inputReads
	uses   map[string][]string
	total  map[string]inputReads // memo: the package and all it uses
}

func newStyleGuesser(byPkg map[string]*Policy) *styleGuesser {
	g := &styleGuesser{byPkg: byPkg, bySegs: map[string]string{}, below: map[string][]string{},
		reads: map[string]inputReads{}, uses: map[string][]string{}, total: map[string]inputReads{}}
	for name, p := range byPkg {
		if len(p.Modules) == 0 {
			continue
		}
		segs := refSegments(p.Modules[0].Parsed.Package.Path)
		g.bySegs[strings.Join(segs, "\x00")] = name
		for n := 1; n < len(segs); n++ {
			k := strings.Join(segs[:n], "\x00")
			g.below[k] = append(g.below[k], name)
		}
	}
	return g
}

// refSegments are the leading string segments of a data ref (after data).
func refSegments(ref ast.Ref) []string {
	var segs []string
	for _, t := range ref[1:] {
		s, ok := t.Value.(ast.String)
		if !ok {
			break
		}
		segs = append(segs, string(s))
	}
	return segs
}

func (g *styleGuesser) guess(p *Policy) Style {
	if p.Package == "main" {
		return StyleConftest
	}
	// What the package, and every package it uses, reads of input:
	// Gatekeeper's review, attest's own resource and context, or a
	// Kubernetes object's own fields, as a conftest package does.
	// input.parameters tells nothing: attest and Gatekeeper both give it.
	// Attest and Gatekeeper styles get the same object; Gatekeeper style is
	// what makes the engine build input.review, so a package that reads it
	// is Gatekeeper style whatever else it reads.
	r := g.all(p.Package, map[string]bool{})
	switch {
	case r.review:
		return StyleGatekeeper
	case r.attest:
		return StyleAttest
	case r.manifest:
		// input.kind and the like exist only in the manifest itself:
		// under attest's input they would never be defined, and the
		// package would never find anything.
		return StyleConftest
	}
	return StyleAttest
}

// all is what pkg and the packages it uses read, transitively.
func (g *styleGuesser) all(pkg string, onPath map[string]bool) inputReads {
	if r, ok := g.total[pkg]; ok {
		return r
	}
	g.scan(pkg)
	onPath[pkg] = true
	r := g.reads[pkg]
	for _, u := range g.uses[pkg] {
		if onPath[u] {
			continue // a cycle: its reads are counted where it started
		}
		o := g.all(u, onPath)
		r.review, r.attest, r.manifest = r.review || o.review, r.attest || o.attest, r.manifest || o.manifest
	}
	delete(onPath, pkg)
	g.total[pkg] = r
	return r
}

// scan reads pkg's own modules once.
func (g *styleGuesser) scan(pkg string) {
	if _, ok := g.reads[pkg]; ok {
		return
	}
	var r inputReads
	used := map[string]bool{}
	for _, m := range g.byPkg[pkg].Modules {
		r.add(m.Parsed)
		for _, u := range g.usedBy(m.Parsed) {
			if u != pkg {
				used[u] = true
			}
		}
	}
	g.reads[pkg] = r
	g.uses[pkg] = slices.Sorted(maps.Keys(used))
}

// usedBy are the packages m refers to, through data or an import alias:
// the one holding the rule a reference reaches, and every package under a
// reference that stops at a namespace or a computed key.
func (g *styleGuesser) usedBy(m *ast.Module) []string {
	aliases := map[ast.Var]ast.Ref{}
	for _, imp := range m.Imports {
		if ref, ok := imp.Path.Value.(ast.Ref); ok && ref[0].Equal(ast.DefaultRootDocument) {
			name := imp.Alias
			if name == "" {
				if v, ok := ref[len(ref)-1].Value.(ast.String); ok {
					name = ast.Var(v)
				}
			}
			if name != "" {
				aliases[name] = ref
			}
		}
	}
	var out []string
	use := func(ref ast.Ref) {
		if v, ok := ref[0].Value.(ast.Var); ok {
			if imp, ok := aliases[v]; ok {
				ref = imp.Concat(ref[1:])
			}
		}
		if len(ref) < 2 || !ref[0].Equal(ast.DefaultRootDocument) {
			return
		}
		segs := refSegments(ref)
		whole := len(segs) == len(ref)-1
		for n := len(segs); n > 0; n-- {
			if name, ok := g.bySegs[strings.Join(segs[:n], "\x00")]; ok {
				out = append(out, name)
				if n < len(segs) || whole {
					return // a rule in that package
				}
				break
			}
		}
		// The ref stops at a namespace (or a computed key below it):
		// every package under it.
		out = append(out, g.below[strings.Join(segs, "\x00")]...)
	}
	// Rules are walked, not imports: an import of a namespace uses only
	// what the rules reach through its alias.
	for _, r := range m.Rules {
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			use(ref)
			return false
		})
	}
	return out
}

// inputReads says which top-level keys of input some modules read.
type inputReads struct{ review, attest, manifest bool }

func (r *inputReads) add(m *ast.Module) {
	ast.WalkRefs(m, func(ref ast.Ref) bool {
		if len(ref) < 2 || !ref[0].Equal(ast.InputRootDocument) {
			return false
		}
		key, ok := ref[1].Value.(ast.String)
		if !ok {
			return false
		}
		switch {
		case key == "review":
			r.review = true
		case key == "resource" || key == "context":
			r.attest = true
		case manifestFields[string(key)]:
			r.manifest = true
		}
		return false
	})
}

// manifestFields are the top-level fields of Kubernetes objects: a package
// that reads input.<one of them> reads a manifest.
var manifestFields = map[string]bool{
	"apiVersion": true, "kind": true, "metadata": true, "spec": true, "status": true, "data": true,
	"stringData": true, "binaryData": true, "immutable": true, "type": true, "rules": true, "subjects": true,
	"roleRef": true, "aggregationRule": true, "template": true, "items": true, "webhooks": true, "secrets": true,
	"imagePullSecrets": true, "automountServiceAccountToken": true,
}

func (p *Policy) readMetadata() []finding.Error {
	var errs []finding.Error
	for _, m := range p.Modules {
		for _, a := range m.Parsed.Annotations {
			if a.Scope != "package" && a.Scope != "subpackages" {
				continue
			}
			if a.Title != "" {
				p.Title = a.Title
			}
			if a.Description != "" {
				p.Description = a.Description
			}
			if name, ok := a.Custom["policy"].(string); ok && name != "" {
				p.Name = name
			}
			if s, ok := a.Custom["severity"].(string); ok {
				sev, err := finding.ParseSeverity(s)
				if err != nil {
					errs = append(errs, annotationError(m, a, err))
				} else {
					p.MetaSeverity = sev
				}
			}
			if s, ok := a.Custom["style"].(string); ok {
				st, err := ParseStyle(s)
				if err != nil {
					errs = append(errs, annotationError(m, a, err))
				} else {
					p.Style = st
				}
			}
		}
	}
	return errs
}

func annotationError(m *Module, a *ast.Annotations, err error) finding.Error {
	loc := finding.Location{File: m.Path}
	if a.Location != nil {
		loc.Line, loc.Column = a.Location.Row, a.Location.Col
	}
	return finding.Error{Location: loc, Message: "METADATA: " + err.Error()}
}

// readRules finds every body of every result rule, in file and line order,
// and gives each a stable id: METADATA custom.id, else its title, else the
// comment right above it, else the rule name (numbered when it has several
// bodies).
func (p *Policy) readRules() []finding.Error {
	var errs []finding.Error
	type body struct {
		rule *ast.Rule
		mod  *Module
	}
	var bodies []body
	for _, m := range p.Modules {
		for _, r := range m.Parsed.Rules {
			name := ruleName(r)
			if _, ok := ResultRuleName(name); ok && isSetRule(r) {
				bodies = append(bodies, body{r, m})
			}
			if name == "exception" {
				p.HasException = true
			}
		}
	}
	count := map[string]int{}
	for _, b := range bodies {
		count[ruleName(b.rule)]++
	}
	seen := map[string]int{}
	n := map[string]int{}
	for _, b := range bodies {
		name := ruleName(b.rule)
		kind, _ := ResultRuleName(name)
		rs := &RuleSpec{Name: name, Kind: kind, Body: b.rule, Module: b.mod}
		rs.Policy = p.Name
		var id string
		for _, a := range b.rule.Annotations {
			if a.Scope != "rule" && a.Scope != "document" {
				continue
			}
			rs.Title = cmp.Or(a.Title, rs.Title)
			rs.Description = cmp.Or(a.Description, rs.Description)
			if v, ok := a.Custom["id"].(string); ok {
				id = v
			}
			if v, ok := a.Custom["remediation"].(string); ok {
				rs.Remediation = v
			}
			if v, ok := a.Custom["severity"].(string); ok {
				if sev, err := finding.ParseSeverity(v); err == nil {
					rs.Severity, rs.Explicit = sev, true
				} else {
					errs = append(errs, annotationError(b.mod, a, err))
				}
			}
			rs.Kinds = append(rs.Kinds, stringList(a.Custom["kinds"])...)
			rs.Controls = append(rs.Controls, stringList(a.Custom["controls"])...)
			for _, rr := range a.RelatedResources {
				if rr.Ref.String() != "" && rs.HelpURI == "" {
					rs.HelpURI = rr.Ref.String()
				}
			}
		}
		if id == "" && rs.Title != "" {
			id = slug(rs.Title)
		}
		if id == "" {
			if c := commentAbove(b.mod.Parsed, b.rule); c != "" {
				id = slug(c)
				rs.Title = cmp.Or(rs.Title, c)
			}
		}
		if id == "" {
			id = strings.ReplaceAll(name, "_", "-")
			if count[name] > 1 {
				n[name]++
				id = fmt.Sprintf("%s-%d", id, n[name])
				rs.Positional = true
			}
		}
		// Two bodies with the same derived id stay distinct.
		seen[id]++
		if seen[id] > 1 {
			id = fmt.Sprintf("%s-%d", id, seen[id])
		}
		rs.ID = p.Name + "/" + id
		if rs.Title == "" {
			rs.Title = id
		}
		p.Rules = append(p.Rules, rs)
	}
	return errs
}

func ruleName(r *ast.Rule) string {
	if len(r.Head.Reference) > 0 {
		if v, ok := r.Head.Reference[0].Value.(ast.Var); ok {
			return string(v)
		}
	}
	return string(r.Head.Name)
}

// isSetRule: only partial set rules (violation[x] / violation contains x)
// produce one finding per value.
func isSetRule(r *ast.Rule) bool {
	return r.Head.Key != nil && r.Head.Value == nil && len(r.Head.Reference) == 1
}

// commentAbove returns the comment block ending on the line above the rule,
// skipping METADATA blocks.
func commentAbove(m *ast.Module, r *ast.Rule) string {
	if r.Location == nil {
		return ""
	}
	row := r.Location.Row - 1
	var lines []string
	for i := len(m.Comments) - 1; i >= 0; i-- {
		c := m.Comments[i]
		if c.Location == nil || c.Location.File != r.Location.File {
			continue
		}
		if c.Location.Row > row {
			continue
		}
		if c.Location.Row < row {
			break
		}
		lines = append([]string{strings.TrimSpace(string(c.Text))}, lines...)
		row--
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "METADATA") {
			return ""
		}
	}
	return strings.TrimSpace(strings.Join(lines, " "))
}

func stringList(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
