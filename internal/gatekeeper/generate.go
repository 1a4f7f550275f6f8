package gatekeeper

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/policy"
)

// GenerateInput is what generation reads from a project.
type GenerateInput struct {
	Policies *policy.Set
	// Context is the static input.context attest evaluates with; it is
	// baked into each template's wrapper (Gatekeeper has no such input).
	Context map[string]any
	// Exemptions are the project's file exemptions; those attest honours
	// at Now that exempt whole namespaces become excludedNamespaces.
	Exemptions []exemption.Exemption
	// Now is the clock exemptions are judged by (nil: time.Now).
	Now func() time.Time
}

// ExemptionsAnnotation, on a generated Constraint, lists as JSON the
// exemptions its excludedNamespaces carry: [{"id", "namespace",
// "expires_at"}].
const ExemptionsAnnotation = "attest.continuu.ms/exemptions"

// Generated is the output: YAML ready for kubectl apply (templates first:
// their CRDs must exist before the constraints).
type Generated struct {
	Templates   []byte
	Constraints []byte
	// Notes say what could not be expressed.
	Notes []string
	// Kinds lists the generated templates' kinds, in order.
	Kinds []string
}

// Well-known parameters get the names the spec's Gatekeeper examples use.
var paramAliases = map[string]map[string]string{
	"image-security": {"trusted_registries": "allowedRegistries"},
}

// kindAliases: the spec names image-security's template AttestImagePolicy.
var kindAliases = map[string]string{"image-security": "AttestImagePolicy"}

// Generate writes one ConstraintTemplate and one Constraint per enabled
// attest-style policy. Each template's Rego is a small wrapper that maps
// Gatekeeper's input (input.review.object, input.parameters) to the attest
// input (input.resource, input.parameters, input.context) and queries the
// original package, which travels unchanged (moved under data.lib) in the
// template's libs together with the library packages it imports.
func Generate(in GenerateInput) (*Generated, error) {
	out := &Generated{}
	now := time.Now()
	if in.Now != nil {
		now = in.Now()
	}
	if in.Policies == nil {
		return nil, fmt.Errorf("no policies")
	}
	var tdocs, cdocs []any
	byPkg := map[string][]*policy.Module{}
	for _, m := range in.Policies.Modules {
		byPkg[m.Package()] = append(byPkg[m.Package()], m)
	}
	for _, p := range in.Policies.Policies {
		if !p.Enabled || p.Engine == EngineName || len(p.Instances) > 0 {
			continue
		}
		if p.Style != policy.StyleAttest {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: %s-style policies are not generated (only attest-style ones)", p.Name, p.Style))
			continue
		}
		libs, err := libsFor(p, byPkg)
		if err != nil {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: not expressible in Gatekeeper: %v", p.Name, err))
			continue
		}
		kind := kindFor(p.Name)
		name := strings.ToLower(kind)
		params := parametersOf(p)
		schemaProps := map[string]any{}
		names := map[string]string{}
		for _, pa := range params {
			schemaProps[pa.camel] = pa.schema
			names[pa.camel] = pa.snake
		}
		wrapper, err := wrapperRego(name, p, names, in.Context)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", p.Name, err)
		}
		desc := p.Description
		if desc == "" {
			desc = "attest policy " + p.Name
		}
		tdocs = append(tdocs, node(map[string]any{
			"apiVersion": "templates.gatekeeper.sh/v1",
			"kind":       "ConstraintTemplate",
			"metadata": map[string]any{
				"name": name,
				"annotations": map[string]any{
					"metadata.gatekeeper.sh/title": firstNonEmpty(p.Title, p.Name),
					"description":                  desc,
					"attest.continuu.ms/policy":    p.Name,
				},
			},
			"spec": map[string]any{
				"crd": map[string]any{"spec": map[string]any{
					"names": map[string]any{"kind": kind},
					"validation": map[string]any{"openAPIV3Schema": map[string]any{
						"type":       "object",
						"properties": schemaProps,
					}},
				}},
				"targets": []any{map[string]any{
					"target": Target,
					"rego":   wrapper,
					"libs":   libs,
				}},
			},
		}))
		cparams := map[string]any{}
		for _, pa := range params {
			if v, ok := p.Parameters[pa.snake]; ok {
				cparams[pa.camel] = v
			}
		}
		match, exempted := matchFor(p, in.Exemptions, now, &out.Notes)
		spec := map[string]any{
			"enforcementAction": actionFor(p.Enforcement),
			"match":             match,
		}
		if len(cparams) > 0 {
			spec["parameters"] = cparams
		}
		meta := map[string]any{"name": constraintName(p.Name)}
		if len(exempted) > 0 {
			// Which exemptions the excludedNamespaces stand for, and until
			// when: Gatekeeper has no expiry, so the cluster's readers must
			// see it here.
			b, err := json.Marshal(exempted)
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", p.Name, err)
			}
			meta["annotations"] = map[string]any{ExemptionsAnnotation: string(b)}
		}
		cdocs = append(cdocs, node(map[string]any{
			"apiVersion": "constraints.gatekeeper.sh/v1beta1",
			"kind":       kind,
			"metadata":   meta,
			"spec":       spec,
		}))
		out.Kinds = append(out.Kinds, kind)
	}
	var err error
	if out.Templates, err = encodeDocs(tdocs); err != nil {
		return nil, err
	}
	if out.Constraints, err = encodeDocs(cdocs); err != nil {
		return nil, err
	}
	return out, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// constraintName is "attest-" + the policy's name as a Kubernetes object
// name (RFC 1123 label, as Gatekeeper requires of constraints): lower case,
// anything else than letters, digits and '-' becomes '-', at most 63
// characters, starting and ending with a letter or digit. Policy names come
// from Rego packages and configuration, where "my_policy" is fine.
func constraintName(policy string) string {
	var b strings.Builder
	b.WriteString("attest-")
	for _, r := range strings.ToLower(policy) {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	for strings.Contains(name, "--") {
		name = strings.ReplaceAll(name, "--", "-")
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimRight(name, "-")
}

func kindFor(name string) string {
	if k, ok := kindAliases[name]; ok {
		return k
	}
	var b strings.Builder
	b.WriteString("Attest")
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func actionFor(e finding.Enforcement) string {
	switch e {
	case finding.EnforcementWarn:
		return "warn"
	case finding.EnforcementDryrun:
		return "dryrun"
	}
	return "deny"
}

type param struct {
	snake, camel string
	schema       map[string]any
}

// parametersOf lists a policy's parameters: those its METADATA declares
// (custom.parameters) and those the configuration sets.
func parametersOf(p *policy.Policy) []param {
	var out []param
	seen := map[string]bool{}
	add := func(name string, schema map[string]any) {
		if seen[name] || name == "" {
			return
		}
		seen[name] = true
		camel := camelCase(name)
		if a, ok := paramAliases[p.Name][name]; ok {
			camel = a
		}
		out = append(out, param{snake: name, camel: camel, schema: schema})
	}
	for _, m := range p.Modules {
		for _, a := range m.Parsed.Annotations {
			if a.Scope != "package" {
				continue
			}
			list, _ := a.Custom["parameters"].([]any)
			for _, e := range list {
				em, _ := e.(map[string]any)
				name, _ := em["name"].(string)
				typ, _ := em["type"].(string)
				s := schemaForType(typ)
				if d, ok := em["description"].(string); ok {
					s["description"] = strings.TrimSpace(d)
				}
				add(name, s)
			}
		}
	}
	keys := make([]string, 0, len(p.Parameters))
	for k := range p.Parameters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(k, schemaForValue(p.Parameters[k]))
	}
	return out
}

func camelCase(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func schemaForType(t string) map[string]any {
	t = strings.ToLower(strings.TrimSpace(t))
	switch {
	case strings.HasPrefix(t, "list") || strings.HasPrefix(t, "array"):
		item := "string"
		if strings.Contains(t, "integer") {
			item = "integer"
		}
		return map[string]any{"type": "array", "items": map[string]any{"type": item}}
	case t == "boolean" || t == "bool":
		return map[string]any{"type": "boolean"}
	case t == "integer" || t == "int":
		return map[string]any{"type": "integer"}
	case t == "number":
		return map[string]any{"type": "number"}
	case t == "string" || t == "quantity" || t == "duration":
		return map[string]any{"type": "string"}
	}
	return map[string]any{"x-kubernetes-preserve-unknown-fields": true}
}

func schemaForValue(v any) map[string]any {
	switch t := v.(type) {
	case bool:
		return map[string]any{"type": "boolean"}
	case string:
		return map[string]any{"type": "string"}
	case int, int64:
		return map[string]any{"type": "integer"}
	case float64:
		return map[string]any{"type": "number"}
	case []any:
		if len(t) > 0 {
			return map[string]any{"type": "array", "items": schemaForValue(t[0])}
		}
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	}
	return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
}

// libsFor gives the policy's modules and every package they read, moved
// under data.lib, as Rego source Gatekeeper parses (v0 with the
// future.keywords imports, which every Gatekeeper version reads).
func libsFor(p *policy.Policy, byPkg map[string][]*policy.Module) ([]any, error) {
	var order []string
	seen := map[string]bool{}
	var visit func(pkg string) error
	visit = func(pkg string) error {
		if seen[pkg] {
			return nil
		}
		seen[pkg] = true
		mods := byPkg[pkg]
		if len(mods) == 0 {
			return nil
		}
		order = append(order, pkg)
		for _, m := range mods {
			var bad error
			ast.WalkExprs(m.Parsed, func(e *ast.Expr) bool {
				if op := e.Operator(); op != nil {
					name := op.String()
					if strings.HasPrefix(name, "attest.") || name == "http.send" {
						bad = fmt.Errorf("calls %s, which Gatekeeper does not have", name)
					}
				}
				return bad != nil
			})
			if bad != nil {
				return bad
			}
			var deps []string
			ast.WalkRefs(m.Parsed, func(r ast.Ref) bool {
				if r[0].Equal(ast.DefaultRootDocument) {
					for q := range byPkg {
						if strings.HasPrefix(strings.TrimPrefix(r.String(), "data."), q) {
							deps = append(deps, q)
						}
					}
				}
				return false
			})
			for _, imp := range m.Parsed.Imports {
				if r, ok := imp.Path.Value.(ast.Ref); ok && r[0].Equal(ast.DefaultRootDocument) {
					for q := range byPkg {
						if strings.HasPrefix(strings.TrimPrefix(r.String(), "data."), q) {
							deps = append(deps, q)
						}
					}
				}
			}
			slices.Sort(deps)
			for _, d := range deps {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(p.Package); err != nil {
		return nil, err
	}
	var out []any
	for _, pkg := range order {
		for _, m := range byPkg[pkg] {
			var tagged []*policy.RuleSpec
			if pkg == p.Package {
				for _, r := range p.Rules {
					if r.Module != nil && r.Module.Parsed == m.Parsed && r.Kind != finding.KindWarning {
						tagged = append(tagged, r)
					}
				}
			}
			src, err := libSource(m.Parsed, tagged...)
			if err != nil {
				return nil, err
			}
			out = append(out, src)
		}
	}
	return out, nil
}

// ruleTagRule is the rule each generated lib adds beside the policy's
// result rules: a copy of each one's body whose value is {"rule": its attest
// rule id, "v": the original value}, so the template can tell Gatekeeper
// which rule fired (details.attest_rule), as attest's reports do.
const ruleTagRule = "__attest_rules"

// libSource moves a module under data.lib and formats it, with a tagged
// copy (ruleTagRule) of each rule in tagged.
func libSource(orig *ast.Module, tagged ...*policy.RuleSpec) (string, error) {
	m := orig.Copy()
	for _, rs := range tagged {
		i := slices.Index(orig.Rules, rs.Body)
		if i < 0 {
			continue
		}
		cp := m.Rules[i].Copy()
		cp.Module = m
		cp.Annotations = nil
		cp.Else = nil
		cp.Head.Name = ast.Var(ruleTagRule)
		cp.Head.Reference = ast.Ref{ast.VarTerm(ruleTagRule)}
		cp.Head.Key = ast.ObjectTerm(
			ast.Item(ast.StringTerm("rule"), ast.StringTerm(rs.ID)),
			ast.Item(ast.StringTerm("v"), m.Rules[i].Head.Key.Copy()),
		)
		m.Rules = append(m.Rules, cp)
	}
	under := func(r ast.Ref) ast.Ref {
		if !r[0].Equal(ast.DefaultRootDocument) || r.HasPrefix(dataLib) {
			return r
		}
		return append(ast.Ref{ast.DefaultRootDocument, ast.StringTerm("lib")}, r[1:]...)
	}
	if _, err := ast.TransformRefs(m, func(r ast.Ref) (ast.Value, error) { return under(r), nil }); err != nil {
		return "", err
	}
	for _, imp := range m.Imports {
		if r, ok := imp.Path.Value.(ast.Ref); ok {
			imp.Path.Value = under(r)
		}
	}
	m.Package.Path = under(m.Package.Path)
	// METADATA and comments are attest's business; Gatekeeper would only
	// carry them along.
	m.Comments = nil
	m.Annotations = nil
	for _, r := range m.Rules {
		r.Annotations = nil
	}
	b, err := format.AstWithOpts(m, format.Opts{RegoVersion: ast.RegoV0CompatV1})
	if err != nil {
		return "", fmt.Errorf("format %s: %w", orig.Package.Path, err)
	}
	return futureKeywords(string(b)), nil
}

// regoV1Import is what the formatter writes for v1-compatible v0 code.
const regoV1Import = "import rego.v1\n"

// futureKeywordImports enable in v0 the keywords that v1 code uses.
// Gatekeeper's Rego rewriter refuses `import rego.v1` (only data.lib.* and
// future.keywords may be imported), so the future.keywords imports stand in
// for it; parsing and evaluation are the same.
const futureKeywordImports = "import future.keywords.contains\nimport future.keywords.every\nimport future.keywords.if\nimport future.keywords.in\n"

func futureKeywords(src string) string {
	if strings.Contains(src, regoV1Import) {
		return strings.Replace(src, regoV1Import, futureKeywordImports, 1)
	}
	// No rego.v1 import (nothing needed a keyword): add them after the
	// package line all the same, so every lib reads alike.
	pkgEnd := strings.Index(src, "\n")
	return src[:pkgEnd+1] + "\n" + futureKeywordImports + src[pkgEnd+1:]
}

// wrapperRego is the template's own Rego: Gatekeeper's input in, attest's
// input to the original package, its results out as {"msg", "details"}.
func wrapperRego(pkg string, p *policy.Policy, names map[string]string, ctx map[string]any) (string, error) {
	namesJSON, err := json.Marshal(names)
	if err != nil {
		return "", err
	}
	if ctx == nil {
		ctx = map[string]any{}
	}
	c := map[string]any{}
	for k, v := range ctx {
		c[k] = v
	}
	c["mode"] = "admission"
	delete(c, "operation")
	ctxJSON, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	target := "data.lib." + p.Package
	// warn rules are not violations in Gatekeeper: without another rule
	// the template has no violation rule.
	var rule string
	if slices.ContainsFunc(p.Rules, func(r *policy.RuleSpec) bool { return r.Kind != finding.KindWarning }) {
		rule = fmt.Sprintf(`violation contains {"msg": msg, "details": details} if {
	results := %s.%s with input as attest_input
	some tagged in results
	result := tagged.v
	not is_false(result)
	msg := message(result)
	details := object.union(details_of(result), {"attest_rule": tagged.rule})
}`, target, ruleTagRule)
	}
	src := fmt.Sprintf(`package %s

import future.keywords.contains
import future.keywords.if
import future.keywords.in

# Generated by attest gatekeeper generate from the attest policy %q.
# Gatekeeper gives input.review and input.parameters; the policy reads
# input.resource, input.parameters (snake_case) and input.context.

%s

names := %s

attest_parameters := {snake: v |
	some camel, v in object.get(input, "parameters", {})
	snake := names[camel]
}

static_context := %s

attest_context := object.union(static_context, {
	"operation": object.get(input.review, "operation", ""),
	"require_attestation": object.get(attest_parameters, "require_attestation", object.get(static_context, "require_attestation", false)) == true,
})

attest_input := {
	"resource": input.review.object,
	"parameters": attest_parameters,
	"context": attest_context,
}

is_false(result) if {
	is_object(result)
	result.violated == false
}

details_of(result) := object.get(result, "details", {}) if is_object(result)

details_of(result) := {} if not is_object(result)

message(result) := result if is_string(result)

message(result) := m if {
	is_object(result)
	m := object.get(result, "message", object.get(result, "msg", sprintf("%%v", [result])))
}
`, pkg, p.Name, rule, namesJSON, ctxJSON)
	// Parse it back: a wrapper that does not parse is a bug here, not the
	// user's.
	if _, err := ast.ParseModuleWithOpts("wrapper.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV0}); err != nil {
		return "", fmt.Errorf("generated wrapper does not parse: %w", err)
	}
	return src, nil
}

// groupOf gives the API group of the kinds policies name.
var groupOf = map[string]string{
	"Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "ReplicaSet": "apps",
	"Job": "batch", "CronJob": "batch",
	"Ingress": "networking.k8s.io", "NetworkPolicy": "networking.k8s.io",
	"Role": "rbac.authorization.k8s.io", "RoleBinding": "rbac.authorization.k8s.io",
	"ClusterRole": "rbac.authorization.k8s.io", "ClusterRoleBinding": "rbac.authorization.k8s.io",
	"PodDisruptionBudget": "policy", "HorizontalPodAutoscaler": "autoscaling",
}

// matchFor matches the kinds the policy's rules name (METADATA
// custom.kinds), grouped by API group, leaves out the cluster-scoped kinds
// of a policy limited to namespaced resources (custom_policies level
// Namespace), and excludes the namespaces that honoured whole-namespace
// exemptions name (see namespaceExclusions). It returns the exemptions it
// carried over, for the constraint's annotation.
func matchFor(p *policy.Policy, exs []exemption.Exemption, now time.Time, notes *[]string) (map[string]any, []carried) {
	byGroup := map[string][]string{}
	all := false
	for _, r := range p.Rules {
		if len(r.Kinds) == 0 {
			all = true
		}
		for _, k := range r.Kinds {
			g := groupOf[k]
			if p.NamespacedOnly && clusterScopedKind(g, k) {
				// attest drops the policy's findings on these kinds.
				continue
			}
			if !slices.Contains(byGroup[g], k) {
				byGroup[g] = append(byGroup[g], k)
			}
		}
	}
	m := map[string]any{}
	var kinds []any
	var listed []kindRef // nil: every kind
	if all || len(byGroup) == 0 {
		kinds = []any{map[string]any{"apiGroups": []any{"*"}, "kinds": []any{"*"}}}
		if p.NamespacedOnly {
			// Every kind, but only namespaced objects: Gatekeeper's scope.
			m["scope"] = "Namespaced"
		}
	} else {
		groups := make([]string, 0, len(byGroup))
		for g := range byGroup {
			groups = append(groups, g)
		}
		slices.Sort(groups)
		for _, g := range groups {
			ks := byGroup[g]
			slices.Sort(ks)
			kinds = append(kinds, map[string]any{"apiGroups": []any{g}, "kinds": toAny(ks)})
			for _, k := range ks {
				listed = append(listed, kindRef{g, k})
			}
		}
	}
	m["kinds"] = kinds
	excluded, done := namespaceExclusions(p, listed, exs, now, notes)
	if len(excluded) > 0 {
		m["excludedNamespaces"] = toAny(excluded)
	}
	return m, done
}

type kindRef struct{ group, kind string }

// clusterScopedKind reports whether attest takes a kind of an API group to
// be cluster-scoped (the engine's list of built-in kinds).
func clusterScopedKind(group, kind string) bool {
	av := "v1"
	if group != "" {
		av = group + "/v1"
	}
	return engine.ClusterScoped(av, kind)
}

// carried is an exemption that became an excludedNamespaces entry.
type carried struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	ExpiresAt string `json:"expires_at"`
}

// notExpressible says why an exemption cannot become an excludedNamespaces
// entry whatever the constraint matches, or "". Only an exemption of the
// whole policy for every name of a kind in named namespaces can
// (resource_name "*" and a resource_namespace that is a namespace or a
// prefix glob): Gatekeeper's match can exclude namespaces, but has no
// exclusion by name (match.name only selects), no per-rule match (a
// constraint is the whole template), and excludedNamespaces does not reach
// objects without a namespace.
func notExpressible(e *exemption.Exemption) string {
	switch {
	case e.Rule != "":
		return "it exempts one rule (" + e.Rule + "), and a constraint enforces every rule of the policy"
	case e.Namespace == "":
		return "it names resources without a namespace, which excludedNamespaces does not reach"
	case e.Namespace == "*":
		return "it names every namespace; excludedNamespaces cannot exempt a kind everywhere (disable the policy or drop the kind instead)"
	case e.Name != "*" && strings.HasSuffix(e.Name, "*"):
		return "it exempts resources by name (" + e.Name + "), and a constraint's match can select a name (match.name) but not exclude one"
	case e.Name != "*":
		return "it exempts one resource (" + e.Name + "), and a constraint's match can select a name (match.name) but not exclude one"
	}
	return ""
}

// namespaceExclusions gives the excludedNamespaces of policy p's constraint,
// whose match lists the kinds listed (nil: every kind). An exemption is
// carried over only when attest honours it now (exemption.Validate, what
// check and serve apply to file exemptions) and it is a whole-namespace
// exemption (notExpressible says ""). As excludedNamespaces leaves out
// every object of the namespace, the exemptions for one namespace pattern
// must together name every namespaced kind the constraint matches; a kind
// they miss would be exempted in Gatekeeper and not in attest, so then
// none is carried over and the note names the missing kinds. Everything
// else gets a note saying why: Gatekeeper will report what it exempts.
func namespaceExclusions(p *policy.Policy, listed []kindRef, exs []exemption.Exemption, now time.Time, notes *[]string) ([]string, []carried) {
	note := func(e *exemption.Exemption, why string) {
		*notes = append(*notes, fmt.Sprintf("%s: exemption %s is not carried over to Gatekeeper: %s; Gatekeeper will report what it exempts", p.Name, e.ID, why))
	}
	var order []string
	byNS := map[string][]*exemption.Exemption{}
	for i := range exs {
		e := &exs[i]
		if e.Policy != "" && e.Policy != p.Name && e.Policy != p.Package {
			continue // another policy's, by its name or its package (governance accepts both)
		}
		if err := exemption.Validate(*e, now); err != nil {
			*notes = append(*notes, fmt.Sprintf("%s: exemption %s is not carried over to Gatekeeper: attest does not honour it (%s) either", p.Name, e.ID, err))
			continue
		}
		if why := notExpressible(e); why != "" {
			note(e, why)
			continue
		}
		if _, seen := byNS[e.Namespace]; !seen {
			order = append(order, e.Namespace)
		}
		byNS[e.Namespace] = append(byNS[e.Namespace], e)
	}
	var excluded []string
	var done []carried
	for _, ns := range order {
		list := byNS[ns]
		var why string
		if listed == nil {
			why = fmt.Sprintf("the constraint matches every kind, and excludedNamespaces %s would exempt them all", ns)
		} else {
			var missing []string
			for _, k := range listed {
				if k.group == "" && k.kind == "Namespace" {
					why = fmt.Sprintf("the constraint also matches Namespace objects, and excludedNamespaces %s would exempt the Namespace %s itself", ns, ns)
					break
				}
				if clusterScopedKind(k.group, k.kind) {
					continue // excludedNamespaces does not reach them, nor does the exemption
				}
				if !slices.ContainsFunc(list, func(e *exemption.Exemption) bool { return strings.EqualFold(e.Kind, k.kind) }) {
					missing = append(missing, k.kind)
				}
			}
			if why == "" && len(missing) > 0 {
				why = fmt.Sprintf("the constraint also matches %s, which excludedNamespaces %s would exempt too; exempt them as well (resource_name \"*\") to carry the namespace over", strings.Join(missing, ", "), ns)
			}
		}
		if why != "" {
			for _, e := range list {
				note(e, why)
			}
			continue
		}
		excluded = append(excluded, ns)
		first := list[0]
		for _, e := range list {
			done = append(done, carried{ID: e.ID, Namespace: ns, ExpiresAt: e.ExpiresAt.UTC().Format(time.RFC3339)})
			if e.ExpiresAt.Before(first.ExpiresAt) {
				first = e
			}
		}
		*notes = append(*notes, fmt.Sprintf("%s: namespace %s is excluded from the constraint (exemption %s); Gatekeeper knows no expiry: generate and apply again when it expires on %s",
			p.Name, ns, first.ID, exemption.FormatExpiry(first.ExpiresAt)))
		if prefix, _ := strings.CutSuffix(ns, "*"); strings.HasPrefix("default", prefix) {
			*notes = append(*notes, fmt.Sprintf("%s: excludedNamespaces %s also leaves out, in the cluster, manifests without metadata.namespace (they land in default), which the attest exemption does not cover", p.Name, ns))
		}
	}
	slices.Sort(excluded)
	return excluded, done
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// node makes a YAML node with keys in a fixed, readable order (apiVersion,
// kind, metadata, spec first; the rest sorted) and Rego as block scalars.
func node(v any) *yaml.Node {
	switch t := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		rank := map[string]int{"apiVersion": 1, "kind": 2, "metadata": 3, "name": 4, "spec": 5}
		slices.SortFunc(keys, func(a, b string) int {
			ra, rb := rank[a], rank[b]
			if ra == 0 {
				ra = 100
			}
			if rb == 0 {
				rb = 100
			}
			if ra != rb {
				return ra - rb
			}
			return strings.Compare(a, b)
		})
		for _, k := range keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, node(t[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range t {
			n.Content = append(n.Content, node(e))
		}
		return n
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: t, Tag: "!!str"}
		if strings.Contains(t, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	}
	var n yaml.Node
	_ = n.Encode(v)
	return &n
}

func encodeDocs(docs []any) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
