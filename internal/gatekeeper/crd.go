package gatekeeper

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/suggest"
)

// A constraint is a custom resource of the CRD Gatekeeper makes from its
// template (frameworks' crds.CreateSchema): spec.match is the target's
// match schema, spec.parameters the template's openAPIV3Schema,
// spec.enforcementAction and spec.scopedEnforcementActions; status keeps
// anything. Gatekeeper's client (crds.ValidateCR) checks a constraint
// against it in three steps, and reports the first that fails:
//
//  1. the name is a DNS-1123 subdomain, the version is served (v1beta1,
//     v1alpha1) - "invalid Constraint";
//  2. the schema: types, enums, patterns, required... - "schema validation
//     failed", the only rejection a gator verify test with invalid: true
//     accepts;
//  3. no field the schema does not declare (the API server's pruning) -
//     "invalid Constraint: unknown fields".
//
// Where the template's schema says x-kubernetes-preserve-unknown-fields,
// or the template asks for legacySchema (the default of v1beta1 and
// v1alpha1 templates: frameworks then adds that marker to every object of
// the schema, and a v1beta1 template without a schema takes any
// parameters), unknown parameters are kept. A v1 template without a
// schema takes no spec.parameters at all.

// constraintProblems sorts what is wrong with a constraint by the step
// that finds it.
type constraintProblems struct {
	invalid []finding.Error // step 1
	schema  []finding.Error // step 2
	unknown []finding.Error // step 3
}

func (p constraintProblems) all() []finding.Error {
	return slices.Concat(p.invalid, p.schema, p.unknown)
}

// rejectedBySchema reports whether Gatekeeper's first error would be a
// schema validation failure (what gator verify wants of an invalid test).
func (p constraintProblems) rejectedBySchema() bool {
	return len(p.invalid) == 0 && len(p.schema) > 0
}

// wildcardPattern is the match schema's pattern for namespaces,
// excludedNamespaces and name.
const wildcardPattern = `^\*?[-:a-z0-9]*\*?$`

// matchSchema is Gatekeeper's target match schema (pkg/target,
// generated from pkg/mutation/match's Match type), as attest's Validate
// reads it.
func matchSchema() map[string]any {
	str := func() map[string]any { return map[string]any{"type": "string"} }
	strs := func() map[string]any { return map[string]any{"type": "array", "items": str()} }
	wild := func() map[string]any {
		return map[string]any{"type": "array", "items": map[string]any{"type": "string", "pattern": wildcardPattern}}
	}
	selector := func() map[string]any {
		return map[string]any{"type": "object", "properties": map[string]any{
			"matchExpressions": map[string]any{"type": "array", "items": map[string]any{
				"type":     "object",
				"required": []any{"key", "operator"},
				"properties": map[string]any{
					"key": str(), "operator": str(), "values": strs(),
				},
			}},
			"matchLabels": map[string]any{"type": "object", "additionalProperties": str()},
		}}
	}
	return map[string]any{"type": "object", "properties": map[string]any{
		"kinds": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
			"apiGroups": strs(), "kinds": strs(),
		}}},
		"scope":              str(),
		"namespaces":         wild(),
		"excludedNamespaces": wild(),
		"labelSelector":      selector(),
		"namespaceSelector":  selector(),
		"name":               map[string]any{"type": "string", "pattern": wildcardPattern},
		"source":             map[string]any{"type": "string", "enum": []any{"All", "Generated", "Original"}},
	}}
}

// constraintSchema is the schema of a constraint of template t.
func constraintSchema(t *Template) map[string]any {
	spec := map[string]any{
		"match":             matchSchema(),
		"enforcementAction": map[string]any{"type": "string"},
		"scopedEnforcementActions": map[string]any{"type": "array", "items": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"action": map[string]any{"type": "string"},
				"enforcementPoints": map[string]any{"type": "array", "items": map[string]any{
					"type":       "object",
					"properties": map[string]any{"name": map[string]any{"type": "string"}},
				}},
			},
		}},
	}
	if p := parametersSchema(t); p != nil {
		spec["parameters"] = p
	}
	return map[string]any{"type": "object", "properties": map[string]any{
		"apiVersion": map[string]any{"type": "string"},
		"kind":       map[string]any{"type": "string"},
		"metadata": map[string]any{"type": "object", "properties": map[string]any{
			"name": map[string]any{"type": "string", "maxLength": int64(63)},
		}},
		"spec":   map[string]any{"type": "object", "properties": spec},
		"status": map[string]any{"x-kubernetes-preserve-unknown-fields": true},
	}}
}

// parametersSchema is the schema of spec.parameters, as frameworks
// converts the template's: nil when the template declares none (and does
// not ask for legacySchema).
func parametersSchema(t *Template) map[string]any {
	s := t.Schema
	if !t.LegacySchema {
		return s
	}
	if s == nil {
		return map[string]any{preserveKey: true}
	}
	s = deepCopy(s).(map[string]any)
	addPreserveUnknownFields(s)
	return s
}

const preserveKey = "x-kubernetes-preserve-unknown-fields"

// addPreserveUnknownFields is frameworks' schema.AddPreserveUnknownFields:
// every object (or untyped) schema keeps unknown fields, an array without
// an item schema gets one that keeps anything, through properties and
// items.
func addPreserveUnknownFields(s map[string]any) {
	switch t, _ := s["type"].(string); t {
	case "", "object":
		s[preserveKey] = true
	case "array":
		if _, ok := s["items"].(map[string]any); !ok {
			s["items"] = map[string]any{preserveKey: true}
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			if ps, ok := p.(map[string]any); ok {
				addPreserveUnknownFields(ps)
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		addPreserveUnknownFields(items)
	}
}

// deepCopy copies the maps and slices of a decoded value (a schema, a
// default).
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// servedVersions are the versions of a constraint CRD.
var servedVersions = []string{"v1beta1", "v1alpha1"}

// checkConstraint checks a constraint as Gatekeeper's client does when it
// is added, errors pointing at the offending field.
func checkConstraint(t *Template, c *Constraint) constraintProblems {
	var p constraintProblems
	prefix := c.Kind + " " + c.Name + ": "
	at := func(n *yaml.Node, msg string) finding.Error { return *errAt(c.Location, n, "%s%s", prefix, msg) }
	if c.node == nil {
		return p // made in Go, not read from a file: nothing to check
	}
	if len(validation.IsDNS1123Subdomain(c.Name)) > 0 {
		p.invalid = append(p.invalid, at(path(c.node, "metadata", "name"), "metadata.name must be a lowercase RFC 1123 subdomain (lower case letters, digits, '-' and '.', starting and ending with a letter or digit), as Kubernetes names are"))
	}
	if _, v := splitAPIVersion(c.APIVersion); !slices.Contains(servedVersions, v) {
		p.invalid = append(p.invalid, at(child(c.node, "apiVersion"), fmt.Sprintf("version %q is not served: constraints are %s/v1beta1 (or v1alpha1)", v, constraintsGroup)))
	}
	schema := constraintSchema(t)
	obj, err := decodeMap(c.node)
	if err != nil {
		p.invalid = append(p.invalid, at(c.node, err.Error()))
		return p
	}
	for _, e := range Validate(schema, obj) {
		p.schema = append(p.schema, at(nodeAt(c.node, e.Path), e.Error()))
	}
	var unknown []unknownField
	unknownFields(c.node, schema, nil, &unknown, true)
	for _, u := range unknown {
		msg := pathString(u.path) + ": unknown field"
		switch {
		case len(u.path) == 2 && u.path[0] == "spec" && u.path[1] == "parameters":
			msg += fmt.Sprintf(": ConstraintTemplate %s declares no parameters (no spec.crd.spec.validation.openAPIV3Schema)", t.Name)
		case u.suggest != "":
			msg += fmt.Sprintf(" (did you mean %s?)", u.suggest)
		}
		msg += "; Gatekeeper rejects a constraint with fields its schema does not declare"
		p.unknown = append(p.unknown, at(u.key, msg))
	}
	return p
}

type unknownField struct {
	path    []any
	key     *yaml.Node
	suggest string // a declared field of a close name
}

// unknownFields is the API server's pruning, reporting what it would drop:
// object fields that neither properties nor additionalProperties declare,
// below no x-kubernetes-preserve-unknown-fields. At the root, apiVersion,
// kind and metadata are Kubernetes' own and not looked at.
func unknownFields(n *yaml.Node, s map[string]any, at []any, out *[]unknownField, root bool) {
	if n == nil || s == nil {
		return
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		props, _ := s["properties"].(map[string]any)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				// <<: *anchor - the merged mappings' fields are this one's.
				for _, m := range mergeSources(v) {
					unknownFields(m, s, at, out, root)
				}
				continue
			}
			key := k.Value
			if root && (key == "apiVersion" || key == "kind" || key == "metadata") {
				continue
			}
			here := append(slices.Clip(at), key)
			if ps, ok := props[key].(map[string]any); ok {
				unknownFields(v, ps, here, out, false)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case map[string]any:
				unknownFields(v, ap, here, out, false)
				continue
			case bool:
				if ap {
					continue
				}
			}
			if preserve(s) {
				continue
			}
			*out = append(*out, unknownField{path: here, key: k, suggest: closest(key, slices.Sorted(maps.Keys(props)))})
		}
	case yaml.SequenceNode:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range n.Content {
				unknownFields(e, items, append(slices.Clip(at), i), out, false)
			}
		}
	}
}

// mergeSources are the mappings a merge key's value names.
func mergeSources(v *yaml.Node) []*yaml.Node {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	if v.Kind == yaml.SequenceNode {
		var out []*yaml.Node
		for _, e := range v.Content {
			out = append(out, mergeSources(e)...)
		}
		return out
	}
	return []*yaml.Node{v}
}

// closest is the candidate nearest to s, if it is a likely typo (an edit
// distance of at most 2 and a third of s, or the same letters but for
// case); "" otherwise. Stricter than suggest.Closest for config keys: a
// one-letter parameter has no suggestion.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if strings.EqualFold(c, s) {
			return c
		}
		if d := suggest.Distance(s, c); d < bestD && 3*d <= len(s) {
			best, bestD = c, d
		}
	}
	return best
}
