package manifest

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"
)

// newResource fills the identifying fields from the converted object, or
// returns nil when it is not a Kubernetes object.
func newResource(v ast.Value, n *yaml.Node) *Resource {
	obj, ok := v.(ast.Object)
	if !ok {
		return nil
	}
	r := &Resource{Value: v, node: n, Item: -1}
	r.APIVersion = stringField(obj, "apiVersion")
	r.Kind = stringField(obj, "kind")
	if r.APIVersion == "" || r.Kind == "" {
		return nil
	}
	if md, ok := field(obj, "metadata").(ast.Object); ok {
		r.Name = stringField(md, "name")
		r.Namespace = stringField(md, "namespace")
		r.Labels = stringMap(field(md, "labels"))
		r.Annotations = stringMap(field(md, "annotations"))
	}
	return r
}

func field(obj ast.Object, key string) ast.Value {
	if t := obj.Get(ast.StringTerm(key)); t != nil {
		return t.Value
	}
	return nil
}

func stringField(obj ast.Object, key string) string {
	s, _ := field(obj, key).(ast.String)
	return string(s)
}

// stringMap keeps the string values only: Kubernetes refuses others, and a
// policy that cares sees them in Value.
func stringMap(v ast.Value) map[string]string {
	obj, ok := v.(ast.Object)
	if !ok || obj.Len() == 0 {
		return nil
	}
	m := make(map[string]string, obj.Len())
	obj.Foreach(func(k, v *ast.Term) {
		ks, kok := k.Value.(ast.String)
		vs, vok := v.Value.(ast.String)
		if kok && vok {
			m[string(ks)] = string(vs)
		}
	})
	return m
}
