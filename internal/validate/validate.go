// Package validate checks Kubernetes manifests strictly against the API
// types of the built-in kinds, as the API server would decode them: unknown
// fields, wrong types, removed API versions, missing or malformed names.
// The schema is k8s.io/api itself, decoded with apimachinery's strict JSON
// serializer (what kubeconform does with OpenAPI schemas), so it needs no
// network and no schema files. Kinds that k8s.io/api does not hold (custom
// resources) are reported as not checked.
package validate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// DefaultKubernetesVersion is the release the API-version checks target:
// the one k8s.io/api v0.37 describes.
const (
	DefaultKubernetesMajor = 1
	DefaultKubernetesMinor = 37
)

// maxTypeErrors bounds how many wrong-type fields are reported for one
// object: the decoder stops at the first, so each one costs a decode.
const maxTypeErrors = 50

// Validator checks resources. It is safe for concurrent use.
type Validator struct {
	scheme *runtime.Scheme
	codec  *kjson.Serializer
	major  int
	minor  int
	// groups holds every API group k8s.io/api knows ("" is core).
	groups map[string]bool
	// kinds maps a kind to the group versions that define it.
	kinds map[string][]schema.GroupVersion
}

// Option configures a Validator.
type Option func(*Validator)

// WithKubernetesVersion sets the release whose served API versions are
// checked (default 1.37): an apiVersion removed in or before it is an
// error, one deprecated in or before it a note.
func WithKubernetesVersion(major, minor int) Option {
	return func(v *Validator) { v.major, v.minor = major, minor }
}

// New builds a Validator with every kind of k8s.io/api registered.
func New(opts ...Option) *Validator {
	s, err := newScheme()
	if err != nil {
		// Registration only fails on a programming error in k8s.io/api.
		panic(fmt.Sprintf("validate: building the Kubernetes scheme: %v", err))
	}
	v := &Validator{
		scheme: s,
		codec:  kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Strict: true}),
		major:  DefaultKubernetesMajor,
		minor:  DefaultKubernetesMinor,
		groups: map[string]bool{},
		kinds:  map[string][]schema.GroupVersion{},
	}
	for gvk := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		v.groups[gvk.Group] = true
		v.kinds[gvk.Kind] = append(v.kinds[gvk.Kind], gvk.GroupVersion())
	}
	for k := range v.kinds {
		slices.SortFunc(v.kinds[k], func(a, b schema.GroupVersion) int {
			return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Version, b.Version))
		})
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

// locator is what manifest.Resource offers to point at a field.
type locator interface {
	Locate(path string) (line, col int, exact bool)
}

// objecter gives the object as plain Go values.
type objecter interface {
	Object() map[string]any
}

// Resource checks one object. Errors are what the API server would
// refuse; notes are what the user should know (a kind not checked, a
// deprecated version).
func (v *Validator) Resource(r *manifest.Resource) (errs []finding.Error, notes []finding.Note) {
	obj, err := objectOf(r)
	if err != nil {
		return []finding.Error{{Location: r.Location, Message: "cannot read object: " + err.Error()}}, nil
	}
	c := &check{v: v, r: r, obj: obj}
	c.run()
	slices.SortStableFunc(c.errs, func(a, b finding.Error) int {
		return cmp.Or(cmp.Compare(a.Location.Line, b.Location.Line), cmp.Compare(a.Location.Column, b.Location.Column))
	})
	return c.errs, c.notes
}

func objectOf(r *manifest.Resource) (map[string]any, error) {
	if o, ok := any(r).(objecter); ok {
		if m := o.Object(); m != nil {
			return m, nil
		}
	}
	if r.Value == nil {
		return nil, fmt.Errorf("empty resource")
	}
	x, err := ast.JSON(r.Value)
	if err != nil {
		return nil, err
	}
	m, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	return m, nil
}

// check is the state of one Resource call.
type check struct {
	v     *Validator
	r     *manifest.Resource
	obj   map[string]any
	gvk   schema.GroupVersionKind
	errs  []finding.Error
	notes []finding.Note
}

// at builds the location of a field.
func (c *check) at(path string) finding.Location {
	loc := c.r.Location
	loc.Field = path
	if l, ok := any(c.r).(locator); ok && path != "" {
		if line, col, _ := l.Locate(path); line > 0 {
			loc.Line, loc.Column = line, col
		}
	}
	return loc
}

func (c *check) errorf(path, format string, args ...any) {
	c.errs = append(c.errs, finding.Error{Location: c.at(path), Message: fmt.Sprintf(format, args...)})
}

func (c *check) notef(path, format string, args ...any) {
	c.notes = append(c.notes, finding.Note{Location: c.at(path), Message: fmt.Sprintf(format, args...)})
}

func (c *check) run() {
	apiVersion, _ := c.obj["apiVersion"].(string)
	kind, _ := c.obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		if apiVersion == "" {
			c.errorf("apiVersion", "apiVersion is missing or not a string")
		}
		if kind == "" {
			c.errorf("kind", "kind is missing or not a string")
		}
		return
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		c.errorf("apiVersion", "apiVersion %q: %v", apiVersion, err)
		return
	}
	c.gvk = gv.WithKind(kind)
	if !c.v.groups[gv.Group] {
		c.notef("", "Kind %s (%s) not checked: no schema built in", kind, apiVersion)
		return
	}
	if !c.v.scheme.Recognizes(c.gvk) {
		c.unknownKind()
		return
	}
	c.lifecycle()
	c.decode()
	c.metadata()
}

// unknownKind handles a kind the group does not define (a typo, or a kind
// under the wrong group).
func (c *check) unknownKind() {
	if g, ok := goneKinds[c.gvk.GroupKind()]; ok {
		c.errorf("apiVersion", "%s %s is no longer served since Kubernetes %s: %s", c.gvk.GroupVersion().String(), c.gvk.Kind, g.removed, g.instead)
		return
	}
	served := c.v.servedVersions(c.gvk.Kind)
	if len(served) > 0 {
		c.errorf("apiVersion", "%s is not a kind of %s; it is served as %s",
			c.gvk.Kind, c.gvk.GroupVersion().String(), joinGV(served))
		return
	}
	if !c.v.groupHasVersion(c.gvk.GroupVersion()) {
		c.errorf("apiVersion", "%s: API group %q has no version %q in Kubernetes %d.%d",
			c.gvk.Kind, c.gvk.Group, c.gvk.Version, c.v.major, c.v.minor)
		return
	}
	c.errorf("kind", "%s is not a kind of %s", c.gvk.Kind, c.gvk.GroupVersion().String())
}

func (v *Validator) groupHasVersion(gv schema.GroupVersion) bool {
	for _, gvs := range v.kinds {
		if slices.Contains(gvs, gv) {
			return true
		}
	}
	return false
}

// goneKinds are kinds that k8s.io/api no longer ships at all, so the
// lifecycle methods cannot speak for them.
var goneKinds = map[schema.GroupKind]struct{ removed, instead string }{
	{Group: "policy", Kind: "PodSecurityPolicy"}:     {"1.25", "use Pod Security Admission (pod-security.kubernetes.io/enforce labels on the namespace)"},
	{Group: "extensions", Kind: "PodSecurityPolicy"}: {"1.16", "use Pod Security Admission (pod-security.kubernetes.io/enforce labels on the namespace)"},
}

// Lifecycle methods that k8s.io/api generates for pre-release versions.
type (
	lifecycleRemoved interface {
		APILifecycleRemoved() (major, minor int)
	}
	lifecycleDeprecated interface {
		APILifecycleDeprecated() (major, minor int)
	}
	lifecycleReplacement interface {
		APILifecycleReplacement() schema.GroupVersionKind
	}
	lifecycleIntroduced interface {
		APILifecycleIntroduced() (major, minor int)
	}
)

func (v *Validator) atOrBefore(major, minor int) bool {
	return major < v.major || (major == v.major && minor <= v.minor)
}

// served reports whether the API server of the target release serves gvk
// by default.
func (v *Validator) served(gvk schema.GroupVersionKind) bool {
	obj, err := v.scheme.New(gvk)
	if err != nil {
		return false
	}
	if rm, ok := obj.(lifecycleRemoved); ok && v.atOrBefore(rm.APILifecycleRemoved()) {
		return false
	}
	if in, ok := obj.(lifecycleIntroduced); ok && !v.atOrBefore(in.APILifecycleIntroduced()) {
		return false
	}
	return !strings.Contains(gvk.Version, "alpha")
}

// servedVersions lists the group versions that serve kind in the target
// release, GA first.
func (v *Validator) servedVersions(kind string) []schema.GroupVersion {
	var out []schema.GroupVersion
	for _, gv := range v.kinds[kind] {
		if v.served(gv.WithKind(kind)) {
			out = append(out, gv)
		}
	}
	slices.SortStableFunc(out, func(a, b schema.GroupVersion) int {
		return cmp.Compare(stability(a.Version), stability(b.Version))
	})
	return out
}

// stability orders versions: GA, beta, alpha.
func stability(version string) int {
	switch {
	case strings.Contains(version, "alpha"):
		return 2
	case strings.Contains(version, "beta"):
		return 1
	}
	return 0
}

func joinGV(gvs []schema.GroupVersion) string {
	s := make([]string, len(gvs))
	for i, gv := range gvs {
		s[i] = gv.String()
	}
	return strings.Join(s, " or ")
}

// lifecycle reports an apiVersion the target release no longer serves (an
// error: the API server refuses it) or has deprecated (a note).
func (c *check) lifecycle() {
	obj, err := c.v.scheme.New(c.gvk)
	if err != nil {
		return
	}
	replacement := func() string {
		if rp, ok := obj.(lifecycleReplacement); ok {
			if r := rp.APILifecycleReplacement(); r.Kind != "" && c.v.served(r) {
				return r.GroupVersion().String()
			}
		}
		if s := c.v.servedVersions(c.gvk.Kind); len(s) > 0 {
			return s[0].String()
		}
		return ""
	}
	kind, apiVersion := c.gvk.Kind, c.gvk.GroupVersion().String()
	if rm, ok := obj.(lifecycleRemoved); ok {
		if maj, min := rm.APILifecycleRemoved(); c.v.atOrBefore(maj, min) {
			if r := replacement(); r != "" {
				c.errorf("apiVersion", "%s %s is no longer served since Kubernetes %d.%d: use apiVersion %s", apiVersion, kind, maj, min, r)
			} else {
				c.errorf("apiVersion", "%s %s is no longer served since Kubernetes %d.%d and has no replacement", apiVersion, kind, maj, min)
			}
			return
		}
	}
	if dp, ok := obj.(lifecycleDeprecated); ok {
		if maj, min := dp.APILifecycleDeprecated(); c.v.atOrBefore(maj, min) {
			msg := fmt.Sprintf("%s %s is deprecated since Kubernetes %d.%d", apiVersion, kind, maj, min)
			if rm, ok := obj.(lifecycleRemoved); ok {
				a, b := rm.APILifecycleRemoved()
				msg += fmt.Sprintf(" and will no longer be served in %d.%d", a, b)
			}
			if r := replacement(); r != "" && r != apiVersion {
				msg += ": use apiVersion " + r
			}
			c.notef("apiVersion", "%s", msg)
			return
		}
	}
	if in, ok := obj.(lifecycleIntroduced); ok && !c.v.atOrBefore(in.APILifecycleIntroduced()) {
		maj, min := in.APILifecycleIntroduced()
		c.notef("apiVersion", "%s %s is only served from Kubernetes %d.%d", apiVersion, kind, maj, min)
		return
	}
	switch stability(c.gvk.Version) {
	case 2:
		c.notef("apiVersion", "%s %s is an alpha API: served only when its feature gate and API group version are enabled", apiVersion, kind)
	case 1:
		if in, ok := obj.(lifecycleIntroduced); ok {
			// Beta APIs introduced from 1.24 on are off by default (KEP-3136).
			if maj, min := in.APILifecycleIntroduced(); maj > 1 || (maj == 1 && min >= 24) {
				c.notef("apiVersion", "%s %s is a beta API that is not served unless enabled (beta APIs are off by default since Kubernetes 1.24)", apiVersion, kind)
			}
		}
	}
}

// decode runs the strict decoder, reporting every wrong type (the decoder
// stops at the first, so each is removed and the object decoded again) and
// then every unknown or duplicate field.
func (c *check) decode() {
	work := deepCopy(c.obj).(map[string]any)
	for range maxTypeErrors {
		err := c.v.decodeErr(work)
		if err == nil {
			return
		}
		if se, ok := runtime.AsStrictDecodingError(err); ok {
			for _, e := range se.Errors() {
				c.strictError(e.Error())
			}
			return
		}
		de := parseDecodeError(err.Error())
		var path []segment
		ok := false
		if de.kind == errType && de.path != "" {
			path, ok = resolve(work, splitRawPath(de.path), de.got)
			if ok && !c.v.failsWithout(work, path) {
				// The decoder's path led to a value of the right JSON type
				// that is not the culprit: fall back to searching.
				ok = false
			}
		}
		if !ok {
			path, ok = c.v.bisect(work, err.Error())
		}
		if !ok {
			c.errorf("", "%s %s does not decode: %s", c.gvk.GroupVersion().String(), c.gvk.Kind, de.message())
			return
		}
		val, _ := lookup(work, path)
		c.errorf(formatPath(path), "%s", de.describe(formatPath(path), val))
		remove(work, path)
	}
}

// strictError reports an unknown or duplicate field.
func (c *check) strictError(msg string) {
	de := parseDecodeError(msg)
	if de.kind != errUnknown && de.kind != errDuplicate {
		c.errorf("", "%s", msg)
		return
	}
	path, ok := resolve(c.obj, splitRawPath(de.path), "")
	p := de.path
	if ok {
		p = formatPath(path)
	}
	word := "unknown"
	if de.kind == errDuplicate {
		word = "duplicate"
	}
	field, parent := p, ""
	if ok && len(path) > 0 {
		field = formatPath(path[len(path)-1:])
		field = strings.TrimPrefix(field, ".")
		parent = formatPath(path[:len(path)-1])
	}
	m := fmt.Sprintf("%s field %q", word, strings.Trim(field, `[]"`))
	if parent != "" {
		m += " in " + parent
	}
	m += fmt.Sprintf(" (%s %s)", c.gvk.Kind, c.gvk.GroupVersion().String())
	if de.kind == errUnknown && ok {
		if s := c.v.suggest(c.gvk, path); s != "" {
			m += fmt.Sprintf(": did you mean %q?", s)
		}
	}
	c.errorf(p, "%s", m)
}

// message is the decoder's text, made readable.
func (de decodeError) message() string {
	switch de.kind {
	case errType:
		return fmt.Sprintf("wrong type: got %s, want %s", de.got, de.want)
	case errOther:
		return de.msg
	}
	return de.path
}

// describe words an error at a located field.
func (de decodeError) describe(path string, val any) string {
	switch de.kind {
	case errType:
		got := de.got
		switch jsonType(val) {
		case "string", "number", "bool":
			b, _ := json.Marshal(val)
			got += " " + string(b)
		}
		return fmt.Sprintf("%s: wrong type: got %s, want %s", path, got, goTypeName(de.want))
	}
	msg := de.msg
	switch {
	case strings.HasPrefix(msg, "quantities must match"):
		msg = "not a Kubernetes quantity (such as 500m, 2, 1.5, 4Gi or 512Mi)"
	case strings.HasPrefix(msg, "parsing time"):
		msg = "not an RFC 3339 time (such as 2024-01-31T12:00:00Z)"
	}
	if s, ok := val.(string); ok {
		return fmt.Sprintf("%s: invalid value %q: %s", path, s, msg)
	}
	return fmt.Sprintf("%s: %s", path, msg)
}

// goTypeName turns the decoder's Go type into words a manifest author
// reads: map[string]string is "object of strings", []v1.Container "array".
func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "array"
	case strings.HasPrefix(t, "map["):
		return "object"
	case t == "string", t == "bool":
		return t
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "integer (" + t + ")"
	case strings.HasPrefix(t, "float"):
		return "number"
	}
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		return "object (" + t[i+1:] + ")"
	}
	return t
}

// decodeErr runs the strict decoder on obj.
func (v *Validator) decodeErr(obj map[string]any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_, _, err = v.codec.Decode(data, nil, nil)
	return err
}

// failsWith reports whether obj fails to decode with the message target.
func (v *Validator) failsWith(obj map[string]any, target string) bool {
	err := v.decodeErr(obj)
	return err != nil && !runtime.IsStrictDecodingError(err) && err.Error() == target
}

// failsWithout reports whether removing the value at path fixes the first
// hard decoding error, i.e. whether path is its culprit.
func (v *Validator) failsWithout(obj map[string]any, path []segment) bool {
	first := v.decodeErr(obj)
	cp := deepCopy(obj).(map[string]any)
	remove(cp, path)
	err := v.decodeErr(cp)
	return err == nil || runtime.IsStrictDecodingError(err) || err.Error() != first.Error()
}

// bisect finds the value that makes obj fail to decode with the message
// target, for errors that do not name a field (a malformed quantity or
// time). Values are decoded in document order, so at each level the
// culprit is the child that, added to the siblings before it, first makes
// the decoder report target. (Matching the message matters: the decoder
// keeps going after a plain type mismatch and reports a later malformed
// quantity instead.)
func (v *Validator) bisect(obj map[string]any, target string) ([]segment, bool) {
	doc := deepCopy(obj).(map[string]any)
	if !v.failsWith(doc, target) {
		return nil, false
	}
	var path []segment
	var cur any = doc
	for {
		switch x := cur.(type) {
		case map[string]any:
			keys := sortedKeys(x)
			saved := make(map[string]any, len(x))
			for _, k := range keys {
				saved[k] = x[k]
			}
			keep := func(k string) bool { return len(path) == 0 && (k == "apiVersion" || k == "kind") }
			for _, k := range keys {
				if !keep(k) {
					delete(x, k)
				}
			}
			if v.failsWith(doc, target) {
				// Fails with no children: the object itself is wrong.
				if len(path) == 0 {
					return nil, false
				}
				for k, val := range saved {
					x[k] = val
				}
				return path, true
			}
			found := ""
			for _, k := range keys {
				x[k] = saved[k]
				if !keep(k) && v.failsWith(doc, target) {
					found = k
					break
				}
			}
			if found == "" {
				return nil, false
			}
			path = append(path, segment{key: found})
			cur = x[found]
		case []any:
			n := len(x)
			if n == 0 {
				return path, true
			}
			// Try ever longer prefixes.
			idx := -1
			for i := range n {
				tr := x[:i+1]
				setAt(doc, path, tr)
				if v.failsWith(doc, target) {
					idx = i
					break
				}
			}
			setAt(doc, path, x)
			if idx < 0 {
				return nil, false
			}
			// Keep the failing element alone in place to descend into it:
			// later elements are dropped so they cannot fail first.
			x = x[:idx+1]
			setAt(doc, path, x)
			path = append(path, segment{index: idx, isIndex: true})
			cur = x[idx]
		default:
			return path, len(path) > 0
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// lookup returns the value at path.
func lookup(obj any, path []segment) (any, bool) {
	cur := obj
	for _, s := range path {
		switch x := cur.(type) {
		case map[string]any:
			if s.isIndex {
				return nil, false
			}
			var ok bool
			if cur, ok = x[s.key]; !ok {
				return nil, false
			}
		case []any:
			if !s.isIndex || s.index >= len(x) {
				return nil, false
			}
			cur = x[s.index]
		default:
			return nil, false
		}
	}
	return cur, true
}

// setAt replaces the value at path (which must exist) with val.
func setAt(obj map[string]any, path []segment, val any) {
	if len(path) == 0 {
		return
	}
	parent, ok := lookup(obj, path[:len(path)-1])
	if !ok {
		return
	}
	last := path[len(path)-1]
	switch x := parent.(type) {
	case map[string]any:
		x[last.key] = val
	case []any:
		if last.index < len(x) {
			x[last.index] = val
		}
	}
}

// remove deletes the value at path: a map entry goes, an array element
// becomes null, which every Go type decodes as its zero value.
func remove(obj map[string]any, path []segment) {
	if len(path) == 0 {
		return
	}
	parent, ok := lookup(obj, path[:len(path)-1])
	if !ok {
		return
	}
	last := path[len(path)-1]
	switch x := parent.(type) {
	case map[string]any:
		delete(x, last.key)
	case []any:
		if last.index < len(x) {
			x[last.index] = nil
		}
	}
}
