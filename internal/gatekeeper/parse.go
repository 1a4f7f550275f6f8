package gatekeeper

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/continuums/attest/internal/finding"
)

// Objects is what one or more files held.
type Objects struct {
	Templates   []*Template
	Constraints []*Constraint
}

const (
	templatesGroup   = "templates.gatekeeper.sh"
	constraintsGroup = "constraints.gatekeeper.sh"
)

// IsTemplateAPIVersion reports whether av is a ConstraintTemplate version
// Gatekeeper serves.
func IsTemplateAPIVersion(av string) bool {
	switch av {
	case templatesGroup + "/v1", templatesGroup + "/v1beta1", templatesGroup + "/v1alpha1":
		return true
	}
	return false
}

// IsConstraintAPIVersion reports whether av is in the constraints group.
func IsConstraintAPIVersion(av string) bool { return strings.HasPrefix(av, constraintsGroup+"/") }

// Parse reads every ConstraintTemplate and Constraint of a YAML or JSON
// file (several documents allowed). Other objects are ignored. YAML is read
// as YAML 1.2, as Kubernetes' JSON-compatible decoding of these objects
// does for the fields that matter. It never panics: a document that cannot
// be read becomes an error with its line.
func Parse(path string, data []byte) (objs Objects, errs []finding.Error) {
	defer func() {
		if r := recover(); r != nil {
			errs = append(errs, finding.Error{Location: finding.Location{File: path}, Message: fmt.Sprintf("internal error while parsing: %v", r)})
		}
	}()
	if bytes.IndexByte(data, 0) >= 0 {
		return objs, []finding.Error{{Location: finding.Location{File: path}, Message: "binary file, not YAML or JSON"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 0; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, finding.Error{Location: finding.Location{File: path, Document: doc, Line: yamlErrorLine(err)}, Message: "YAML: " + err.Error()})
			break
		}
		root := &n
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		if root.Kind != yaml.MappingNode {
			continue
		}
		loc := finding.Location{File: path, Document: doc, Line: root.Line, Column: root.Column}
		av, kind := scalar(child(root, "apiVersion")), scalar(child(root, "kind"))
		switch {
		case kind == "ConstraintTemplate" && IsTemplateAPIVersion(av):
			t, err := parseTemplate(root, loc)
			if err != nil {
				errs = append(errs, *err)
				continue
			}
			objs.Templates = append(objs.Templates, t)
		case IsConstraintAPIVersion(av):
			c, err := parseConstraint(root, loc)
			if err != nil {
				errs = append(errs, *err)
				continue
			}
			objs.Constraints = append(objs.Constraints, c)
		}
	}
	return objs, errs
}

func yamlErrorLine(err error) int {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &line)
	}
	return line
}

func errAt(loc finding.Location, n *yaml.Node, format string, args ...any) *finding.Error {
	if n != nil {
		loc.Line, loc.Column = n.Line, n.Column
	}
	return &finding.Error{Location: loc, Message: fmt.Sprintf(format, args...)}
}

// child returns the value node of key in a mapping, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				return v.Alias
			}
			return v
		}
	}
	return nil
}

func path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = child(n, k)
	}
	return n
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

func strings_(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, scalar(c))
	}
	return out
}

// decodeMap decodes a mapping node to plain values with JSON-like numbers.
func decodeMap(n *yaml.Node) (map[string]any, error) {
	if n == nil || n.Tag == "!!null" {
		return nil, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := normalise(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a mapping, got %s", describe(v))
	}
	return m, nil
}

// normalise turns yaml.v3's values into the ones JSON decoding gives
// (map[string]any, []any, string, bool, float64/int64, nil).
func normalise(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalise(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = normalise(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = normalise(e)
		}
		return t
	case int:
		return int64(t)
	case uint64:
		return float64(t)
	}
	return v
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, int:
		return "integer"
	case float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func parseTemplate(root *yaml.Node, loc finding.Location) (*Template, *finding.Error) {
	t := &Template{
		APIVersion: scalar(child(root, "apiVersion")),
		Name:       scalar(path(root, "metadata", "name")),
		Kind:       scalar(path(root, "spec", "crd", "spec", "names", "kind")),
		Location:   loc,
		Version:    ast.RegoV0,
	}
	ann := path(root, "metadata", "annotations")
	t.Title = scalar(child(ann, "metadata.gatekeeper.sh/title"))
	t.Description = strings.TrimSpace(scalar(child(ann, "description")))
	if t.Name == "" {
		return nil, errAt(loc, nil, "ConstraintTemplate has no metadata.name")
	}
	if t.Kind == "" {
		return nil, errAt(loc, nil, "ConstraintTemplate %s has no spec.crd.spec.names.kind", t.Name)
	}
	// Gatekeeper: the template's name must be its kind in lower case.
	if t.Name != strings.ToLower(t.Kind) {
		return nil, errAt(loc, path(root, "metadata", "name"), "ConstraintTemplate name %q must be the lowercase of its kind %q (%q)", t.Name, t.Kind, strings.ToLower(t.Kind))
	}
	val := path(root, "spec", "crd", "spec", "validation")
	// frameworks' defaults: legacySchema is false in v1, true before.
	t.LegacySchema = t.APIVersion != templatesGroup+"/v1"
	if ls := child(val, "legacySchema"); ls != nil {
		switch scalar(ls) {
		case "true":
			t.LegacySchema = true
		case "false":
			t.LegacySchema = false
		default:
			return nil, errAt(loc, ls, "ConstraintTemplate %s: legacySchema must be true or false", t.Name)
		}
	}
	if s := child(val, "openAPIV3Schema"); s != nil {
		m, err := decodeMap(s)
		if err != nil {
			return nil, errAt(loc, s, "ConstraintTemplate %s: openAPIV3Schema: %v", t.Name, err)
		}
		t.Schema = m
	} else if props := child(val, "properties"); props != nil {
		// The legacy shape (v1beta1 examples, the spec's own): properties
		// right under validation.
		m, err := decodeMap(props)
		if err != nil {
			return nil, errAt(loc, props, "ConstraintTemplate %s: validation.properties: %v", t.Name, err)
		}
		t.Schema = map[string]any{"type": "object", "properties": m}
	}
	targets := path(root, "spec", "targets")
	if targets == nil || targets.Kind != yaml.SequenceNode || len(targets.Content) == 0 {
		return nil, errAt(loc, nil, "ConstraintTemplate %s has no spec.targets", t.Name)
	}
	if len(targets.Content) > 1 {
		return nil, errAt(loc, targets, "ConstraintTemplate %s: exactly one target is supported, as in Gatekeeper", t.Name)
	}
	tg := targets.Content[0]
	if name := scalar(child(tg, "target")); name != Target {
		return nil, errAt(loc, child(tg, "target"), "ConstraintTemplate %s: target %q is not %s", t.Name, name, Target)
	}
	regoNode, libsNode := child(tg, "rego"), child(tg, "libs")
	if code := child(tg, "code"); code != nil && code.Kind == yaml.SequenceNode {
		// Gatekeeper takes the Rego engine's source from code when it is
		// there; spec.targets[].rego is the legacy form of the same thing.
		sawCEL := false
		for _, c := range code.Content {
			switch scalar(child(c, "engine")) {
			case "Rego":
				src := child(c, "source")
				regoNode, libsNode = child(src, "rego"), child(src, "libs")
				switch v := scalar(child(src, "version")); v {
				case "", "v0":
				case "v1":
					t.Version = ast.RegoV1
				default:
					return nil, errAt(loc, child(src, "version"), "ConstraintTemplate %s: unknown Rego version %q (want v0 or v1)", t.Name, v)
				}
			case "K8sNativeValidation":
				sawCEL = true
			}
		}
		if regoNode == nil && sawCEL {
			t.CELOnly = true
			return t, nil
		}
	}
	if regoNode == nil || scalar(regoNode) == "" {
		return nil, errAt(loc, tg, "ConstraintTemplate %s has no Rego", t.Name)
	}
	t.Rego = source(regoNode)
	if libsNode != nil {
		if libsNode.Kind != yaml.SequenceNode {
			return nil, errAt(loc, libsNode, "ConstraintTemplate %s: libs must be a list of Rego sources", t.Name)
		}
		for _, l := range libsNode.Content {
			t.Libs = append(t.Libs, source(l))
		}
	}
	return t, nil
}

// source places a block of Rego: a block scalar (| or >) starts on the
// line after its indicator.
func source(n *yaml.Node) Source {
	line := n.Line
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		line++
	}
	return Source{Code: n.Value, Line: line}
}

func parseConstraint(root *yaml.Node, loc finding.Location) (*Constraint, *finding.Error) {
	c := &Constraint{
		APIVersion: scalar(child(root, "apiVersion")),
		Kind:       scalar(child(root, "kind")),
		Name:       scalar(path(root, "metadata", "name")),
		Location:   loc,
	}
	if c.Kind == "" {
		return nil, errAt(loc, nil, "constraint has no kind")
	}
	if c.Name == "" {
		return nil, errAt(loc, nil, "%s constraint has no metadata.name", c.Kind)
	}
	spec := child(root, "spec")
	c.EnforcementAction = scalar(child(spec, "enforcementAction"))
	switch strings.ToLower(c.EnforcementAction) {
	case "", "deny", "warn", "dryrun", "scoped":
	default:
		return nil, errAt(loc, child(spec, "enforcementAction"), "%s %s: unknown enforcementAction %q (want deny, warn, dryrun or scoped)", c.Kind, c.Name, c.EnforcementAction)
	}
	if sa := child(spec, "scopedEnforcementActions"); sa != nil && sa.Kind == yaml.SequenceNode {
		for _, a := range sa.Content {
			s := ScopedAction{Action: scalar(child(a, "action"))}
			if eps := child(a, "enforcementPoints"); eps != nil {
				for _, ep := range eps.Content {
					s.Points = append(s.Points, scalar(child(ep, "name")))
				}
			}
			c.Scoped = append(c.Scoped, s)
		}
	}
	if strings.EqualFold(c.EnforcementAction, "scoped") && len(c.Scoped) == 0 {
		return nil, errAt(loc, child(spec, "enforcementAction"), "%s %s: enforcementAction scoped needs scopedEnforcementActions", c.Kind, c.Name)
	}
	c.node = root
	// Parameters that are not a mapping are the schema check's to report
	// (checkConstraint): Gatekeeper's answer depends on the template.
	if p := child(spec, "parameters"); p != nil && p.Kind == yaml.MappingNode {
		m, err := decodeMap(p)
		if err != nil {
			return nil, errAt(loc, p, "%s %s: spec.parameters: %v", c.Kind, c.Name, err)
		}
		c.Parameters = m
	}
	m, err := parseMatch(child(spec, "match"), loc)
	if err != nil {
		err.Message = fmt.Sprintf("%s %s: %s", c.Kind, c.Name, err.Message)
		return nil, err
	}
	c.Match = m
	return c, nil
}

func parseMatch(n *yaml.Node, loc finding.Location) (Match, *finding.Error) {
	var m Match
	if n == nil {
		return m, nil
	}
	if k := child(n, "kinds"); k != nil {
		for _, e := range k.Content {
			m.Kinds = append(m.Kinds, KindMatch{APIGroups: strings_(child(e, "apiGroups")), Kinds: strings_(child(e, "kinds"))})
		}
	}
	// Any other scope is accepted and matches everything, as in
	// Gatekeeper (Match.Matches).
	m.Scope = scalar(child(n, "scope"))
	m.Namespaces = strings_(child(n, "namespaces"))
	m.ExcludedNamespaces = strings_(child(n, "excludedNamespaces"))
	m.Name = scalar(child(n, "name"))
	m.Source = scalar(child(n, "source"))
	var err *finding.Error
	if m.LabelSelector, err = parseSelector(child(n, "labelSelector"), loc); err != nil {
		return m, err
	}
	if m.NamespaceSelector, err = parseSelector(child(n, "namespaceSelector"), loc); err != nil {
		return m, err
	}
	return m, nil
}

func parseSelector(n *yaml.Node, loc finding.Location) (*Selector, *finding.Error) {
	if n == nil || n.Tag == "!!null" {
		return nil, nil
	}
	s := &Selector{}
	if ml := child(n, "matchLabels"); ml != nil && ml.Kind == yaml.MappingNode {
		s.MatchLabels = map[string]string{}
		for i := 0; i+1 < len(ml.Content); i += 2 {
			k, v := ml.Content[i], ml.Content[i+1]
			if err := checkLabelKey(loc, "matchLabels", k, k.Value); err != nil {
				return nil, err
			}
			if err := checkLabelValue(loc, "matchLabels", v, scalar(v)); err != nil {
				return nil, err
			}
			s.MatchLabels[k.Value] = scalar(v)
		}
	}
	if me := child(n, "matchExpressions"); me != nil {
		for _, e := range me.Content {
			r := Requirement{Key: scalar(child(e, "key")), Operator: scalar(child(e, "operator")), Values: strings_(child(e, "values"))}
			// A missing key is the schema's to report (key is required).
			if keyNode := child(e, "key"); keyNode != nil {
				if err := checkLabelKey(loc, "matchExpressions", keyNode, r.Key); err != nil {
					return nil, err
				}
			}
			for _, vn := range items(child(e, "values")) {
				if err := checkLabelValue(loc, "matchExpressions", vn, scalar(vn)); err != nil {
					return nil, err
				}
			}
			switch r.Operator {
			case "In", "NotIn":
				if len(r.Values) == 0 {
					return nil, errAt(loc, e, "matchExpressions: operator %s needs values", r.Operator)
				}
			case "Exists", "DoesNotExist":
				if len(r.Values) > 0 {
					return nil, errAt(loc, e, "matchExpressions: operator %s takes no values", r.Operator)
				}
			default:
				return nil, errAt(loc, child(e, "operator"), "matchExpressions: unknown operator %q (want In, NotIn, Exists or DoesNotExist)", r.Operator)
			}
			s.MatchExpressions = append(s.MatchExpressions, r)
		}
	}
	return s, nil
}

// checkLabelKey and checkLabelValue check a selector's label key (at
// node n) and value as the API server's label selector validation does,
// which Gatekeeper applies to a constraint's labelSelector and
// namespaceSelector: a key is a qualified name ([prefix/]name), a value
// at most 63 characters of [A-Za-z0-9-_.] starting and ending with an
// alphanumeric.
func checkLabelKey(loc finding.Location, field string, n *yaml.Node, key string) *finding.Error {
	if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
		return errAt(loc, n, "%s: invalid label key %q: %s", field, key, strings.Join(msgs, "; "))
	}
	return nil
}

func checkLabelValue(loc finding.Location, field string, n *yaml.Node, value string) *finding.Error {
	if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
		return errAt(loc, n, "%s: invalid label value %q: %s", field, value, strings.Join(msgs, "; "))
	}
	return nil
}

// items is a sequence's entries (nil for anything else).
func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
