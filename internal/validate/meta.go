package validate

import (
	"reflect"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/continuums/attest/internal/suggest"
)

// nameRule is how the API server validates the name of a kind.
type nameRule struct {
	what  string // words for the message
	check func(name string, prefix bool) []string
	max   int // extra length limit, 0 for none
}

var (
	ruleSubdomain   = nameRule{what: "a DNS subdomain (RFC 1123)", check: apivalidation.NameIsDNSSubdomain}
	ruleLabel       = nameRule{what: "a DNS label (RFC 1123)", check: apivalidation.NameIsDNSLabel}
	rule1035        = nameRule{what: "a DNS label (RFC 1035: starts with a letter)", check: apivalidation.NameIsDNS1035Label}
	rulePathSegment = nameRule{what: "a path segment name", check: pathSegmentName}
)

// pathSegmentName is the API server's rule for names that only have to be
// usable in a URL path (RBAC roles such as "system:controller:foo").
func pathSegmentName(name string, prefix bool) []string {
	if !prefix && (name == "." || name == "..") {
		return []string{`may not be '.' or '..'`}
	}
	var msgs []string
	for _, bad := range []string{"/", "%"} {
		if strings.Contains(name, bad) {
			msgs = append(msgs, "may not contain '"+bad+"'")
		}
	}
	return msgs
}

// nameRules lists the kinds whose names are not DNS subdomains, as the API
// server's validation of each kind has them. Every other kind takes a DNS
// subdomain.
var nameRules = map[schema.GroupKind]nameRule{
	{Group: "", Kind: "Namespace"}:                                              ruleLabel,
	{Group: "", Kind: "Service"}:                                                rule1035,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:                          rulePathSegment,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                   rulePathSegment,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:                   rulePathSegment,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:            rulePathSegment,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                 rulePathSegment,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}: rulePathSegment,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:           rulePathSegment,
	// A CronJob's name gets an 11-character suffix for its Jobs, whose
	// names must fit a 63-character label.
	{Group: "batch", Kind: "CronJob"}: {what: "a DNS subdomain (RFC 1123) of at most 52 characters", check: apivalidation.NameIsDNSSubdomain, max: 52},
}

// unnamedGroups hold request/response kinds that are never stored, so
// they need no name (TokenReview, SubjectAccessReview, AdmissionReview...).
var unnamedGroups = map[string]bool{
	"admission.k8s.io":      true,
	"authentication.k8s.io": true,
	"authorization.k8s.io":  true,
	"imagepolicy.k8s.io":    true,
	"apidiscovery.k8s.io":   true,
}

// metadata checks the name, namespace, labels and annotations as the API
// server's ObjectMeta validation does.
func (c *check) metadata() {
	if unnamedGroups[c.gvk.Group] || strings.HasSuffix(c.gvk.Kind, "List") {
		return
	}
	meta, _ := c.obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	generateName, _ := meta["generateName"].(string)
	rule, ok := nameRules[c.gvk.GroupKind()]
	if !ok {
		rule = ruleSubdomain
	}
	switch {
	case name == "" && generateName == "":
		if meta == nil {
			c.errorf("", "metadata.name is required (%s has no metadata)", c.gvk.Kind)
		} else {
			c.errorf("metadata", "metadata.name is required (or metadata.generateName)")
		}
	case name != "":
		for _, msg := range rule.check(name, false) {
			c.errorf("metadata.name", "metadata.name %q is not %s: %s", name, rule.what, msg)
		}
		if rule.max > 0 && len(name) > rule.max {
			c.errorf("metadata.name", "metadata.name %q is longer than %d characters", name, rule.max)
		}
	default:
		for _, msg := range rule.check(generateName, true) {
			c.errorf("metadata.generateName", "metadata.generateName %q is not a valid prefix for %s: %s", generateName, rule.what, msg)
		}
	}
	if ns, ok := meta["namespace"].(string); ok && ns != "" {
		for _, msg := range apivalidation.ValidateNamespaceName(ns, false) {
			c.errorf("metadata.namespace", "metadata.namespace %q is not a valid namespace name: %s", ns, msg)
		}
	}
	c.labels([]segment{{key: "metadata"}}, meta)
	// Pod templates: their labels must match selectors, and the API server
	// validates them with the object.
	for _, p := range [][]segment{
		{{key: "spec"}, {key: "template"}, {key: "metadata"}},
		{{key: "spec"}, {key: "jobTemplate"}, {key: "spec"}, {key: "template"}, {key: "metadata"}},
	} {
		if m, ok := lookup(c.obj, p); ok {
			mm, _ := m.(map[string]any)
			c.labels(p, mm)
		}
	}
}

// labels checks label keys and values and annotation keys.
func (c *check) labels(at []segment, meta map[string]any) {
	if meta == nil {
		return
	}
	if labels, ok := meta["labels"].(map[string]any); ok {
		for _, k := range sortedKeys(labels) {
			p := formatPath(append(append([]segment{}, at...), segment{key: "labels"}, segment{key: k}))
			for _, msg := range validation.IsQualifiedName(k) {
				c.errorf(p, "label key %q is invalid: %s", k, msg)
			}
			if s, ok := labels[k].(string); ok {
				for _, msg := range validation.IsValidLabelValue(s) {
					c.errorf(p, "label value %q of %q is invalid: %s", s, k, msg)
				}
			}
		}
	}
	if ann, ok := meta["annotations"].(map[string]any); ok {
		for _, k := range sortedKeys(ann) {
			p := formatPath(append(append([]segment{}, at...), segment{key: "annotations"}, segment{key: k}))
			for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
				c.errorf(p, "annotation key %q is invalid: %s", k, msg)
			}
		}
	}
}

// suggest finds the field the author probably meant by an unknown one: a
// field of the same Go struct whose JSON name is close.
func (v *Validator) suggest(gvk schema.GroupVersionKind, path []segment) string {
	if len(path) == 0 {
		return ""
	}
	obj, err := v.scheme.New(gvk)
	if err != nil {
		return ""
	}
	t := reflect.TypeOf(obj)
	for _, s := range path[:len(path)-1] {
		t = deref(t)
		switch {
		case s.isIndex && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
			t = t.Elem()
		case !s.isIndex && t.Kind() == reflect.Map:
			t = t.Elem()
		case !s.isIndex && t.Kind() == reflect.Struct:
			f, ok := jsonField(t, s.key)
			if !ok {
				return ""
			}
			t = f
		default:
			return ""
		}
	}
	t = deref(t)
	if t.Kind() != reflect.Struct {
		return ""
	}
	return suggest.Closest(path[len(path)-1].key, jsonNames(t))
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonTag returns a struct field's JSON name and whether it is inlined.
func jsonTag(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("json")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "-" {
		return "", false
	}
	if f.Anonymous && name == "" || strings.Contains(opts, "inline") {
		return "", true
	}
	if name == "" {
		name = f.Name
	}
	return name, false
}

// jsonField finds the type of the field named name, through inlined
// structs.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		n, inline := jsonTag(f)
		if inline {
			if ft, ok := jsonField(deref(f.Type), name); ok {
				return ft, true
			}
			continue
		}
		if n == name && f.IsExported() {
			return f.Type, true
		}
	}
	return nil, false
}

// jsonNames lists a struct's JSON field names, through inlined structs.
func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		n, inline := jsonTag(f)
		if inline {
			if ft := deref(f.Type); ft.Kind() == reflect.Struct {
				out = append(out, jsonNames(ft)...)
			}
			continue
		}
		if n != "" && f.IsExported() {
			out = append(out, n)
		}
	}
	return out
}
