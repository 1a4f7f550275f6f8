package gatekeeper

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SchemaError is one place where a value does not fit a schema.
type SchemaError struct {
	Path    []any // keys (string) and indexes (int) from the root
	Message string
}

func (e SchemaError) Error() string {
	if len(e.Path) == 0 {
		return e.Message
	}
	return pathString(e.Path) + ": " + e.Message
}

// pathString writes a path as Kubernetes does: spec.match.kinds[0].kind.
func pathString(p []any) string {
	var b strings.Builder
	for i, s := range p {
		switch t := s.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", t)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprintf(&b, "%v", t)
		}
	}
	return b.String()
}

// Validate checks v against the subset of OpenAPI v3 that Kubernetes
// structural schemas use: type (with nullable and
// x-kubernetes-int-or-string), properties, additionalProperties, items,
// required, enum, minimum/maximum (and exclusive), min/maxLength, pattern,
// min/maxItems, uniqueItems, min/maxProperties, allOf/anyOf/oneOf/not.
// Error paths start at v. It is the API server's validation, which does
// not look at fields the schema does not declare: those are unknownFields'
// business (its pruning), whatever x-kubernetes-preserve-unknown-fields
// says; declared fields are checked under that marker too.
//
// k8s.io/apiextensions-apiserver's validator would pull in the API server
// (hundreds of packages) for this; the subset here is what templates use.
func Validate(schema map[string]any, v any) []SchemaError {
	var errs []SchemaError
	validate(schema, v, nil, &errs)
	return errs
}

func validate(s map[string]any, v any, at []any, errs *[]SchemaError) {
	if s == nil {
		return
	}
	fail := func(format string, args ...any) {
		*errs = append(*errs, SchemaError{Path: slices.Clone(at), Message: fmt.Sprintf(format, args...)})
	}
	if v == nil {
		if b, _ := s["nullable"].(bool); !b && s["type"] != nil {
			fail("must be %s, not null", article(fmt.Sprint(s["type"])))
		}
		return
	}
	if b, _ := s["x-kubernetes-int-or-string"].(bool); b {
		switch n := v.(type) {
		case string, int64, int:
		case float64:
			if !isWhole(n) {
				fail("must be an integer or a string, not %s", describe(v))
			}
		default:
			fail("must be an integer or a string, not %s", describe(v))
		}
		return
	}
	if t, ok := s["type"].(string); ok && !hasType(t, v) {
		fail("must be %s, not %s", article(t), describe(v))
		return
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return equal(e, v) }) {
		fail("must be one of %s", enumText(enum))
	}
	for _, sub := range list(s["allOf"]) {
		validate(sub, v, at, errs)
	}
	if anyOf := list(s["anyOf"]); len(anyOf) > 0 && !slices.ContainsFunc(anyOf, func(sub map[string]any) bool { return len(Validate(sub, v)) == 0 }) {
		fail("must match at least one schema of anyOf")
	}
	if one := list(s["oneOf"]); len(one) > 0 {
		n := 0
		for _, sub := range one {
			if len(Validate(sub, v)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("must match exactly one schema of oneOf (matches %d)", n)
		}
	}
	if not, ok := s["not"].(map[string]any); ok && len(Validate(not, v)) == 0 {
		fail("must not match the schema in not")
	}
	switch t := v.(type) {
	case string:
		if n, ok := num(s["minLength"]); ok && float64(len([]rune(t))) < n {
			fail("must be at least %v characters long", n)
		}
		if n, ok := num(s["maxLength"]); ok && float64(len([]rune(t))) > n {
			fail("must be at most %v characters long", n)
		}
		if p, ok := s["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err == nil && !re.MatchString(t) {
				fail("must match the pattern %q", p)
			}
		}
	case int64, int, float64:
		f, _ := num(t)
		if n, ok := num(s["minimum"]); ok {
			if ex, _ := s["exclusiveMinimum"].(bool); ex && f <= n || !ex && f < n {
				fail("must be at least %v", n)
			}
		}
		if n, ok := num(s["maximum"]); ok {
			if ex, _ := s["exclusiveMaximum"].(bool); ex && f >= n || !ex && f > n {
				fail("must be at most %v", n)
			}
		}
	case []any:
		if n, ok := num(s["minItems"]); ok && float64(len(t)) < n {
			fail("must have at least %v items", n)
		}
		if n, ok := num(s["maxItems"]); ok && float64(len(t)) > n {
			fail("must have at most %v items", n)
		}
		if u, _ := s["uniqueItems"].(bool); u {
			for i := range t {
				for j := i + 1; j < len(t); j++ {
					if equal(t[i], t[j]) {
						fail("items %d and %d are the same", i, j)
					}
				}
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range t {
				validate(items, e, append(at, i), errs)
			}
		}
	case map[string]any:
		for _, r := range strs(s["required"]) {
			if _, ok := t[r]; !ok {
				fail("%s is required", r)
			}
		}
		if n, ok := num(s["minProperties"]); ok && float64(len(t)) < n {
			fail("must have at least %v properties", n)
		}
		if n, ok := num(s["maxProperties"]); ok && float64(len(t)) > n {
			fail("must have at most %v properties", n)
		}
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				validate(ps, t[k], append(at, k), errs)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case map[string]any:
				validate(ap, t[k], append(at, k), errs)
			case bool:
				if !ap && props != nil {
					// additionalProperties: false is not allowed in
					// structural schemas; unknown fields are pruned.
					continue
				}
			}
		}
	}
}

func preserve(s map[string]any) bool {
	b, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	return b
}

func hasType(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		switch n := v.(type) {
		case int64, int:
			return true
		case float64:
			return isWhole(n)
		}
		return false
	case "number":
		_, ok := num(v)
		_, isStr := v.(string)
		return ok && !isStr
	}
	return true // an unknown type name: nothing to check
}

func isWhole(f float64) bool { return f == math.Trunc(f) && !math.IsInf(f, 0) }

func article(t string) string {
	switch t {
	case "object", "array", "integer":
		return "an " + t
	}
	return "a " + t
}

func num(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func equal(a, b any) bool {
	if fa, ok := num(a); ok {
		fb, ok := num(b)
		return ok && fa == fb
	}
	return fmt.Sprint(a) == fmt.Sprint(b) && describe(a) == describe(b)
}

func enumText(enum []any) string {
	parts := make([]string, len(enum))
	for i, e := range enum {
		if s, ok := e.(string); ok {
			parts[i] = strconv.Quote(s)
		} else {
			parts[i] = fmt.Sprint(e)
		}
	}
	return strings.Join(parts, ", ")
}

func list(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// nodeAt finds the YAML node of a path under n, or the deepest that exists.
func nodeAt(n *yaml.Node, p []any) *yaml.Node {
	for _, s := range p {
		var next *yaml.Node
		switch t := s.(type) {
		case string:
			next = child(n, t)
		case int:
			if n != nil && n.Kind == yaml.SequenceNode && t < len(n.Content) {
				next = n.Content[t]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}
