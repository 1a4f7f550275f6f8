package config

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
)

func reflectOf(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

// origin is "file:line" of a node.
func (d *decoder) origin(n *yaml.Node) string {
	if n == nil || n.Line == 0 {
		return d.file
	}
	return fmt.Sprintf("%s:%d", d.file, n.Line)
}

// merge applies one decoded file on top of c: only the keys the file wrote
// change anything. It returns the errors that need two files to see (a
// custom policy defined twice).
func (c *Config) merge(f *fileSchema, d *decoder) []finding.Error {
	var errs []finding.Error
	c.mergeStruct(reflectOf(&c.Policy), reflectOf(&f.Policy), "policy", "policy", d, map[string]bool{"custom_policies": true})
	for i, cp := range f.Policy.CustomPolicies {
		nameNode := d.set[fmt.Sprintf("policy.custom_policies[%d].name", i)]
		cp.Source = d.origin(nameNode)
		clash := false
		for _, prev := range c.Policy.CustomPolicies {
			if prev.Name == cp.Name {
				errs = append(errs, finding.Error{
					Location: finding.Location{File: d.file, Line: lineOf(nameNode), Column: colOf(nameNode)},
					Message:  fmt.Sprintf("custom policy %q is already defined at %s; rename one of them", cp.Name, prev.Source),
				})
				clash = true
				break
			}
		}
		if !clash {
			c.Policy.CustomPolicies = append(c.Policy.CustomPolicies, cp)
		}
	}
	c.mergeStruct(reflectOf(&c.Compliance), reflectOf(&f.Compliance), "compliance", "compliance", d, nil)
	c.mergeStruct(reflectOf(&c.Exemptions), reflectOf(&f.Exemptions), "exemptions", "exemptions", d, nil)
	c.mergeStruct(reflectOf(&c.Server), reflectOf(&f.Server), "server", "server", d, nil)
	for i := range f.Policies {
		src := &f.Policies[i]
		path := fmt.Sprintf("policies[%d]", i)
		var dst *PolicyConfig
		for j := range c.Policies {
			if c.Policies[j].Name == src.Name {
				dst = &c.Policies[j]
				break
			}
		}
		if dst == nil {
			c.Policies = append(c.Policies, PolicyConfig{Name: src.Name})
			dst = &c.Policies[len(c.Policies)-1]
		}
		dst.Source = d.origin(d.set[path+".name"])
		c.mergeStruct(reflectOf(dst), reflectOf(src), path, "policies."+src.Name, d, map[string]bool{"name": true})
	}
	return errs
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

func colOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Column
}

// mergeStruct copies every field of src that the file set (d.set, under
// path) into dst, recursing into nested structs and merging maps key by
// key; key is the name the field is listed under (`attest config list`).
func (c *Config) mergeStruct(dst, src reflect.Value, path, key string, d *decoder, skip map[string]bool) {
	for _, fi := range fieldsOf(dst.Type()) {
		if skip[fi.key] {
			continue
		}
		p, k := joinPath(path, fi.key), joinPath(key, fi.key)
		n, ok := d.set[p]
		if !ok {
			continue
		}
		df, sf := dst.FieldByIndex(fi.index), src.FieldByIndex(fi.index)
		switch df.Kind() {
		case reflect.Struct:
			c.mergeStruct(df, sf, p, k, d, nil)
			continue
		case reflect.Map:
			if df.IsNil() {
				df.Set(reflect.MakeMap(df.Type()))
			}
			iter := sf.MapRange()
			for iter.Next() {
				df.SetMapIndex(iter.Key(), iter.Value())
			}
		default:
			df.Set(sf)
		}
		c.origins[k] = d.origin(n)
	}
}
