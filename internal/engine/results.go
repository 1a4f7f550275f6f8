package engine

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
)

// findings turns the query's bindings into findings for the policies in pols.
func (e *Engine) findings(r *manifest.Resource, b rego.Vars, pols []int) []finding.Finding {
	if b == nil {
		return nil
	}
	var out []finding.Finding
	for _, pi := range pols {
		p := e.c.policies[pi]
		if p.NamespacedOnly && ClusterScoped(r.APIVersion, r.Kind) {
			continue
		}
		if len(p.Instances) > 0 {
			out = append(out, e.instanceFindings(r, b, pi)...)
			continue
		}
		vals, _ := b[string(policyVar(pi))].([]any)
		if len(vals) == 0 {
			continue
		}
		var except map[string]bool
		if p.HasException {
			except = conftestExceptions(b[string(exceptionVar(pi))])
		}
		for _, v := range vals {
			f, spec, ok := e.unwrap(r, p, v)
			if !ok {
				continue
			}
			if except != nil && excepted(except, spec.Name) {
				f.Exemption = &finding.Exemption{Source: "conftest-exception", Reason: "exception rule in package " + p.Package}
			}
			e.debugFired(spec, "", r, v)
			out = append(out, f)
		}
	}
	return out
}

// instanceFindings reads each instance's results: they carry the
// instance's name and enforcement.
func (e *Engine) instanceFindings(r *manifest.Resource, b rego.Vars, pi int) []finding.Finding {
	p := e.c.policies[pi]
	var out []finding.Finding
	for k, in := range p.Instances {
		vals, _ := b[string(instanceVar(pi, k))].([]any)
		for _, v := range vals {
			f, spec, ok := e.unwrap(r, p, v)
			if !ok {
				continue
			}
			f.Constraint = in.Name
			if in.Enforcement != "" {
				f.Enforcement = in.Enforcement
			}
			e.debugFired(spec, in.Name, r, v)
			out = append(out, f)
		}
	}
	return out
}

// unwrap reads one collector result, {"r": rule index, "v": the rule's
// value}, into a finding of policy p.
func (e *Engine) unwrap(r *manifest.Resource, p *policy.Policy, v any) (finding.Finding, *policy.RuleSpec, bool) {
	wrapped, ok := v.(map[string]any)
	if !ok {
		return finding.Finding{}, nil, false
	}
	idx, ok := asInt(wrapped["r"])
	if !ok || idx < 0 || idx >= len(e.c.rules) {
		return finding.Finding{}, nil, false
	}
	spec := e.c.rules[idx]
	f, ok := e.decode(r, p, spec, wrapped["v"])
	return f, spec, ok
}

// debugFired tells policy.debug which rule fired, where, with what value.
func (e *Engine) debugFired(spec *policy.RuleSpec, constraint string, r *manifest.Resource, v any) {
	if e.debug == nil {
		return
	}
	var raw []byte
	if w, ok := v.(map[string]any); ok {
		raw, _ = json.Marshal(w["v"])
	}
	id := spec.ID
	if constraint != "" {
		id += " (" + constraint + ")"
	}
	e.debugf("fired %s on %s (%s): %s", id, r.Ref(), r.Location, raw)
}

func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case int:
		return n, true
	case float64:
		return int(n), true
	}
	return 0, false
}

// decode reads one rule result in any of the three shapes: a string
// (conftest), {"msg", "details"} (Gatekeeper, conftest) or {"violated",
// "message", "severity"} (attest).
func (e *Engine) decode(r *manifest.Resource, p *policy.Policy, spec *policy.RuleSpec, v any) (finding.Finding, bool) {
	f := finding.Finding{
		Policy:      p.Name,
		Rule:        spec.ID,
		Engine:      cmp.Or(p.Engine, e.engine),
		Kind:        spec.Kind,
		Enforcement: p.Enforcement,
		Resource:    r.Ref(),
		Location:    r.Location,
	}
	var sev finding.Severity
	placed := false // the policy gave the location (conftest's _loc)
	switch t := v.(type) {
	case string:
		f.Message = t
	case map[string]any:
		if violated, ok := t["violated"].(bool); ok && !violated {
			return f, false
		}
		f.Message = firstString(t, "message", "msg")
		if s, ok := t["severity"].(string); ok {
			sev, _ = finding.ParseSeverity(s)
		}
		if d, ok := t["details"].(map[string]any); ok {
			f.Details = d
		}
		for _, k := range []string{"field", "path", "container"} {
			if s, ok := t[k].(string); ok {
				if f.Details == nil {
					f.Details = map[string]any{}
				}
				if _, exists := f.Details[k]; !exists {
					f.Details[k] = s
				}
			}
		}
		if loc, ok := t["_loc"].(map[string]any); ok {
			// conftest's _loc: the policy says where the problem is, and
			// that beats any guess of ours.
			if file, ok := loc["file"].(string); ok && file != "" {
				f.Location = finding.Location{File: file}
			}
			if line, ok := asInt(loc["line"]); ok {
				f.Location.Line = line
				f.Location.Column = 0
				placed = true
			}
		}
		if f.Message == "" {
			raw, _ := json.Marshal(t)
			f.Message = string(raw)
		}
	default:
		raw, _ := json.Marshal(t)
		f.Message = string(raw)
	}
	f.Severity = p.SeverityOf(spec, sev)
	if !placed && f.Location.File == r.Location.File {
		e.locate(r, &f)
	}
	return f, true
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// fieldKeys are the details keys that may name a field, in preference order.
var fieldKeys = []string{"field", "path", "json_path", "jsonPath", "pointer", "json_pointer", "jsonPointer"}

// locate points the finding at the field it names, else at the container
// it names, else at the one container whose image or name the message
// quotes. Otherwise the finding stays on the object's first line.
func (e *Engine) locate(r *manifest.Resource, f *finding.Finding) {
	for _, k := range fieldKeys {
		if s, ok := f.Details[k].(string); ok && s != "" {
			if line, col, found, _ := r.Find(s); found {
				f.Location.Line, f.Location.Column, f.Location.Field = line, col, normaliseField(s)
				return
			}
		}
	}
	containers := r.Containers()
	if len(containers) == 0 {
		return
	}
	for _, k := range []string{"container", "container_name", "containerName"} {
		if name, ok := f.Details[k].(string); ok && name != "" {
			for _, c := range containers {
				if c.Name == name {
					f.Location.Line, f.Location.Column, f.Location.Field = c.Line, c.Column, c.Path
					return
				}
			}
		}
	}
	// The message quotes an image: point at that image, if only one
	// container uses it.
	if c, ok := only(containers, func(c manifest.Container) bool {
		return c.Image != "" && strings.Contains(f.Message, c.Image)
	}); ok {
		if line, col, _, exact := r.Find(c.Path + ".image"); exact {
			f.Location.Line, f.Location.Column, f.Location.Field = line, col, c.Path+".image"
			return
		}
	}
	if c, ok := only(containers, func(c manifest.Container) bool {
		return c.Name != "" && mentions(f.Message, c.Name)
	}); ok {
		f.Location.Line, f.Location.Column, f.Location.Field = c.Line, c.Column, c.Path
	}
}

// only returns the single container that matches, if exactly one does.
func only(cs []manifest.Container, match func(manifest.Container) bool) (manifest.Container, bool) {
	var hit manifest.Container
	n := 0
	for _, c := range cs {
		if match(c) {
			hit = c
			n++
		}
	}
	return hit, n == 1
}

// mentions reports whether s names w as a word of its own, so container
// "app" is not found in "application".
func mentions(s, w string) bool {
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || !wordByte(s[j-1])) && (end == len(s) || !wordByte(s[end])) {
			return true
		}
		i = j + 1
	}
	return false
}

func wordByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// normaliseField turns a JSON pointer into the dotted path reports show.
func normaliseField(s string) string {
	if !strings.HasPrefix(s, "/") {
		return strings.TrimPrefix(strings.TrimPrefix(s, "$"), ".")
	}
	parts := strings.Split(strings.TrimPrefix(s, "/"), "/")
	var b strings.Builder
	for i, p := range parts {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(p); err == nil {
			fmt.Fprintf(&b, "[%s]", p)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// conftestExceptions reads conftest's exception[rules] results: a set of
// arrays of rule names without their deny_/violation_ prefix.
func conftestExceptions(v any) map[string]bool {
	sets, ok := v.([]any)
	if !ok {
		return nil
	}
	out := map[string]bool{}
	for _, s := range sets {
		switch t := s.(type) {
		case []any:
			for _, n := range t {
				if name, ok := n.(string); ok {
					out[name] = true
				}
			}
		case string:
			out[t] = true
		}
	}
	return out
}

// excepted follows conftest: exception "foo" covers deny_foo and
// violation_foo; "" covers the plain deny and violation rules. Warnings are
// never excepted.
func excepted(names map[string]bool, rule string) bool {
	for _, prefix := range []string{"deny", "violation"} {
		if rule == prefix {
			return names[""]
		}
		if strings.HasPrefix(rule, prefix+"_") {
			return names[strings.TrimPrefix(rule, prefix+"_")]
		}
	}
	return false
}
