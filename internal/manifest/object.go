package manifest

import "github.com/open-policy-agent/opa/v1/ast"

// Object returns the object as plain Go values (map[string]any, []any,
// string, bool, nil, json.Number), for code that does not speak OPA values.
// It converts on every call: keep it off the hot path.
func (r *Resource) Object() map[string]any {
	if r == nil || r.Value == nil {
		return nil
	}
	v, err := ast.JSON(r.Value)
	if err != nil {
		return nil
	}
	m, _ := v.(map[string]any)
	return m
}
