// Package gatekeeper reads Gatekeeper ConstraintTemplates and Constraints,
// validates them as Gatekeeper does, and turns them into policies the one
// engine evaluates (internal/engine): each template becomes a policy in its
// own Rego namespace, each constraint one instance of it with its own
// parameters, match and enforcement. It also runs gator-style suites and
// writes Gatekeeper objects from attest policies.
package gatekeeper

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
)

// Target is the only target Gatekeeper's admission webhook serves.
const Target = "admission.k8s.gatekeeper.sh"

// EngineName labels findings of Gatekeeper policies.
const EngineName = "gatekeeper"

// Template is one ConstraintTemplate.
type Template struct {
	Name       string // metadata.name
	Kind       string // spec.crd.spec.names.kind
	APIVersion string
	// Schema is spec.crd.spec.validation.openAPIV3Schema (or, for the
	// legacy shape, an object schema of validation.properties); nil when
	// the template declares none.
	Schema map[string]any
	// LegacySchema is spec.crd.spec.validation.legacySchema, true by
	// default in v1beta1 and v1alpha1 templates: unknown parameters are
	// kept, not rejected.
	LegacySchema bool
	Rego         Source
	Libs         []Source
	Version      ast.RegoVersion
	// CELOnly: the template has code for K8sNativeValidation only, which
	// attest does not evaluate.
	CELOnly  bool
	Location finding.Location
	// Title and Description come from the usual annotations.
	Title, Description string
}

// Source is a piece of Rego inside a YAML file, with the line its first
// line sits on, so errors point into the YAML file.
type Source struct {
	Code string
	Line int // 1-based line of the code's first line in the file
}

// Constraint is one instance of a template.
type Constraint struct {
	Kind       string
	Name       string
	APIVersion string
	Match      Match
	// Parameters is spec.parameters; nil when absent.
	Parameters        map[string]any
	EnforcementAction string
	Scoped            []ScopedAction
	Location          finding.Location
	// node is the constraint's YAML mapping, to check it against its
	// schema and point errors at the offending field.
	node *yaml.Node
}

// ScopedAction is one entry of spec.scopedEnforcementActions.
type ScopedAction struct {
	Action string
	Points []string // enforcement point names; "*" is every point
}

// Enforcement points, as Gatekeeper names them.
const (
	PointValidation = "validation.gatekeeper.sh"
	PointAudit      = "audit.gatekeeper.sh"
	PointGator      = "gator.gatekeeper.sh"
)

// Match is spec.match.
type Match struct {
	Kinds              []KindMatch
	Scope              string
	Namespaces         []string
	ExcludedNamespaces []string
	LabelSelector      *Selector
	NamespaceSelector  *Selector
	Name               string
	Source             string // All (default), Original or Generated
}

// KindMatch is one entry of match.kinds; empty lists match everything.
type KindMatch struct {
	APIGroups []string
	Kinds     []string
}

// Selector is a Kubernetes label selector.
type Selector struct {
	MatchLabels      map[string]string
	MatchExpressions []Requirement
}

// Requirement is one matchExpressions entry.
type Requirement struct {
	Key      string
	Operator string // In, NotIn, Exists, DoesNotExist
	Values   []string
}
