package gatekeeper

import "maps"

// applyDefaults fills in the `default`s of a structural schema, as the API
// server does for a custom resource before Gatekeeper reads it: inside
// every object that is present, a property the object lacks and whose
// schema has a default gets a copy of that default (itself defaulted);
// array items and present properties are defaulted in turn. An object
// that is absent is not created, unless its own schema has a default. v
// is not changed; the result shares nothing with it that is changed.
func applyDefaults(schema map[string]any, v any) any {
	if schema == nil {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		extra, _ := schema["additionalProperties"].(map[string]any)
		if len(props) == 0 && extra == nil {
			return x
		}
		out := maps.Clone(x)
		for name, ps := range props {
			sub, _ := ps.(map[string]any)
			if sub == nil {
				continue
			}
			if _, ok := out[name]; !ok {
				if d, ok := sub["default"]; ok {
					out[name] = applyDefaults(sub, deepCopy(d))
				}
			}
		}
		for name, val := range out {
			if sub, ok := props[name].(map[string]any); ok {
				out[name] = applyDefaults(sub, val)
			} else if extra != nil {
				out[name] = applyDefaults(extra, val)
			}
		}
		return out
	case []any:
		items, _ := schema["items"].(map[string]any)
		if items == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = applyDefaults(items, e)
		}
		return out
	}
	return v
}
