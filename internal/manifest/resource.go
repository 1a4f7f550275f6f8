// Package manifest turns YAML and JSON input (files, directories, stdin) into
// Kubernetes resources that remember where they came from, down to the line
// and column of every field.
package manifest

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
)

// Resource is one Kubernetes object from one YAML document (or one item of a
// List). It keeps the YAML node tree so findings can point at a field.
type Resource struct {
	// Location is where the object starts: file, document index (0-based)
	// and the line/column of its first key.
	Location finding.Location
	// Item is the index inside the expanded List that holds the object
	// (the innermost one, for a List inside a List), or -1.
	Item int

	APIVersion  string
	Kind        string
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string

	// Value is the object as an OPA value, converted straight from the YAML
	// nodes with Kubernetes (sigs.k8s.io/yaml) scalar semantics.
	Value ast.Value

	// node is the mapping node of the object, for Locate.
	node *yaml.Node
	// fromValue: made by FromValue, with no node; Find and Containers
	// walk Value instead.
	fromValue bool
}

// Ref names the object.
func (r *Resource) Ref() finding.ResourceRef {
	return finding.ResourceRef{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

// File is what one input file yielded. Errors never stop the other
// documents of the file from being returned.
type File struct {
	Path      string
	Resources []*Resource
	Notes     []finding.Note
	Errors    []finding.Error
}
