package gatekeeper

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/internal/safefile"
)

// maxFile caps one template or constraint file.
const maxFile = 8 << 20

// Set is the templates and constraints that validated, ready for the
// engine.
type Set struct {
	templates   []*compiledTemplate
	constraints map[string][]*Constraint // by template kind
	point       string
	cluster     *Cluster
	inventory   bool
	nsSelector  bool
	mode        matchMode
	lookup      NamespaceLookup // admission: the cluster's Namespaces; nil: none
}

// NamespaceLookup reads Namespaces from the cluster, for a
// namespaceSelector at admission (attest serve) on an object in a
// namespace that is not among the observed objects. Gatekeeper's webhook
// reads the request's Namespace from its informer cache, and straight from
// the API server when the cache does not have it (yet).
type NamespaceLookup interface {
	// Labels gives the labels of the Namespace called name, and false
	// when the cluster has no such Namespace. An error means it could not
	// be read. The map is only read. It is called from many goroutines at
	// once.
	Labels(ctx context.Context, name string) (map[string]string, bool, error)
}

// matchMode is which Namespace object comes with a review, the one place
// where gator test, gator verify and Gatekeeper's webhook match
// differently (Match.Matches does the rest the same way in all three).
type matchMode int

const (
	// modeGatorTest is gator test's (pkg/gator/test, expand's
	// NamespaceForResource), and attest policy check's: an object that
	// names no namespace comes with an empty Namespace object (no name, no
	// labels), one in a namespace among the inputs with that Namespace,
	// one in default with an unlabelled default Namespace when the inputs
	// have none; in any other namespace it comes with none.
	modeGatorTest matchMode = iota
	// modeVerify is gator verify's: a case object comes with the
	// Namespace of the request's namespace when the case's inventory has
	// it, else with none (and an object naming no namespace with none).
	modeVerify
	// modeAdmission is the webhook's (attest serve): an object comes with
	// the Namespace of the request's namespace (none without one), as in
	// verify. Its labels come from the observed objects, else from the
	// set's NamespaceLookup (the cluster), as Gatekeeper's webhook reads
	// them. When that lookup fails, or says the Namespace does not exist,
	// a namespaceSelector that needs the labels fails the review (the
	// webhook refuses the request); without a lookup the selector does not
	// match instead of rejecting every object.
	modeAdmission
)

type buildOptions struct {
	point   string
	cluster *Cluster
	mode    *matchMode
	lookup  NamespaceLookup
}

// withMode sets the match mode (default: admission at the validation
// enforcement point, gator test anywhere else).
func withMode(m matchMode) BuildOption { return func(o *buildOptions) { o.mode = &m } }

// BuildOption configures Build.
type BuildOption func(*buildOptions)

// WithEnforcementPoint names where the constraints are enforced, for
// scoped enforcement actions (default gator.gatekeeper.sh: attest's CLI
// is Gatekeeper's offline tool).
func WithEnforcementPoint(p string) BuildOption { return func(o *buildOptions) { o.point = p } }

// WithCluster sets the namespaces and inventory the match and data.inventory
// read (default: an empty cluster that Observe fills).
func WithCluster(c *Cluster) BuildOption { return func(o *buildOptions) { o.cluster = c } }

// WithNamespaceLookup gives the set the cluster's Namespaces, which the
// admission match (the validation enforcement point) consults for a
// namespaceSelector after the observed Namespaces. gator test and gator
// verify never read it: their Namespaces are the inputs'. Nil is none.
func WithNamespaceLookup(l NamespaceLookup) BuildOption {
	return func(o *buildOptions) { o.lookup = l }
}

// Build checks templates and constraints as Gatekeeper's admission of them
// would: each template's Rego compiles alone, each constraint names a known
// template and its parameters fit the template's schema. What fails is
// reported with file and line and left out.
func Build(objs Objects, opts ...BuildOption) (*Set, []finding.Error) {
	o := buildOptions{point: PointGator}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cluster == nil {
		o.cluster = NewCluster()
	}
	s := &Set{constraints: map[string][]*Constraint{}, point: o.point, cluster: o.cluster, mode: modeGatorTest, lookup: o.lookup}
	switch {
	case o.mode != nil:
		s.mode = *o.mode
	case o.point == PointValidation:
		s.mode = modeAdmission
	}
	var errs []finding.Error
	byKind := map[string]*Template{}
	var bad = map[string]bool{} // kinds whose template failed: no second error per constraint
	for _, t := range objs.Templates {
		if prev := byKind[t.Kind]; prev != nil {
			errs = append(errs, finding.Error{Location: t.Location, Message: "ConstraintTemplate " + t.Name + " is defined twice (first at " + prev.Location.String() + ")"})
			continue
		}
		byKind[t.Kind] = t
		if t.CELOnly {
			errs = append(errs, finding.Error{Location: t.Location, Message: "ConstraintTemplate " + t.Name + ": only K8sNativeValidation (CEL) code, which attest does not evaluate; add a Rego engine source"})
			bad[t.Kind] = true
			continue
		}
		ct, terrs := compileTemplate(t)
		if terrs != nil {
			errs = append(errs, terrs...)
			bad[t.Kind] = true
			continue
		}
		s.templates = append(s.templates, ct)
		s.inventory = s.inventory || ct.inventory
	}
	for _, c := range objs.Constraints {
		t := byKind[c.Kind]
		if t == nil {
			errs = append(errs, finding.Error{Location: c.Location, Message: "constraint " + c.Name + " is of kind " + c.Kind + ", which no ConstraintTemplate defines"})
			continue
		}
		if bad[c.Kind] {
			continue
		}
		if cerrs := ValidateConstraint(t, c); cerrs != nil {
			errs = append(errs, cerrs...)
			continue
		}
		if c.Parameters != nil {
			// The API server fills the schema's defaults in before
			// Gatekeeper sees the constraint.
			c.Parameters = applyDefaults(t.Schema, c.Parameters).(map[string]any)
		}
		if slices.ContainsFunc(s.constraints[c.Kind], func(x *Constraint) bool { return x.Name == c.Name }) {
			errs = append(errs, finding.Error{Location: c.Location, Message: c.Kind + " " + c.Name + " is defined twice"})
			continue
		}
		s.constraints[c.Kind] = append(s.constraints[c.Kind], c)
		s.nsSelector = s.nsSelector || c.Match.NamespaceSelector != nil
	}
	return s, errs
}

// ValidateConstraint checks a constraint as Gatekeeper's client does when
// it is added (checkConstraint): its name and version, its fields against
// the schema of its CRD (match, enforcement, the parameters against the
// template's openAPIV3Schema) and fields that schema does not declare.
// Errors point at the offending field.
func ValidateConstraint(t *Template, c *Constraint) []finding.Error {
	return checkConstraint(t, c).all()
}

// Cluster is what the match and data.inventory read.
func (s *Set) Cluster() *Cluster { return s.cluster }

// NeedsFirstPass reports whether every input must be seen before any is
// evaluated: a template reads data.inventory, or a constraint selects
// namespaces by label.
func (s *Set) NeedsFirstPass() bool { return s.inventory || s.nsSelector }

// SelectsNamespacesByLabel reports whether a constraint has a
// namespaceSelector: only then does a review read a Namespace's labels.
func (s *Set) SelectsNamespacesByLabel() bool { return s.nsSelector }

// ReadsInventory reports whether a template reads data.inventory.
func (s *Set) ReadsInventory() bool { return s.inventory }

// Empty reports whether there is nothing to evaluate.
func (s *Set) Empty() bool { return len(s.templates) == 0 }

// Policies gives one policy per template with one instance per constraint,
// and every module (the templates' and their libs') for the compiler. A
// template without constraints is compiled but produces nothing, as in
// Gatekeeper.
func (s *Set) Policies() ([]*policy.Policy, []*policy.Module, []finding.Error) {
	var pols []*policy.Policy
	var mods []*policy.Module
	var errs []finding.Error
	for _, ct := range s.templates {
		p, perrs := policy.FromModules(ct.t.Name, policy.StyleGatekeeper, []*policy.Module{ct.main}, "violation")
		errs = append(errs, perrs...)
		p.Engine = EngineName
		p.Title = ct.t.Title
		p.Description = ct.t.Description
		for _, c := range s.constraints[ct.t.Kind] {
			enf, ok := c.EnforcementAt(s.point)
			if !ok {
				continue
			}
			p.Instances = append(p.Instances, policy.Instance{
				Name:        c.Name,
				Parameters:  c.Parameters,
				Enforcement: enf,
				Match:       s.matcher(c),
			})
		}
		if len(p.Instances) == 0 {
			// Nothing to query; the Rego is still compiled so errors show.
			p.Enabled = false
		}
		pols = append(pols, p)
		mods = append(mods, ct.main)
		mods = append(mods, ct.libs...)
		if ar, mod := s.autorejectPolicy(ct); ar != nil {
			pols = append(pols, ar)
			mods = append(mods, mod)
		}
	}
	return pols, mods, errs
}

// matcher is a constraint's match. A missing Namespace is no match (the
// constraint's autoreject instance reports it, outside admission); a
// Namespace that cannot be read from the cluster is an error, which
// fails the review.
func (s *Set) matcher(c *Constraint) func(ctx context.Context, r *manifest.Resource, old ast.Value) (bool, error) {
	return func(ctx context.Context, r *manifest.Resource, old ast.Value) (bool, error) {
		ok, err := s.review(ctx, &c.Match, r, old)
		switch {
		case err == nil:
			return ok, nil
		case errors.Is(err, errMissingNamespace):
			return false, nil
		}
		return false, fmt.Errorf("constraint %s: %w", c.Name, err)
	}
}

// autorejecter is the match of a constraint's autoreject instance: the
// review's match fails for want of the Namespace (Gatekeeper's client
// reports that as a violation).
func (s *Set) autorejecter(c *Constraint) func(ctx context.Context, r *manifest.Resource, old ast.Value) (bool, error) {
	return func(ctx context.Context, r *manifest.Resource, old ast.Value) (bool, error) {
		_, err := s.review(ctx, &c.Match, r, old)
		return errors.Is(err, errMissingNamespace), nil
	}
}

// review is Gatekeeper's target matcher (matchAny) for one review of r
// (old: the object before an UPDATE, or nil): it matches when the object or
// the old object meets every criterion, both with the review's Namespace.
// A match that fails (errMissingNamespace) on the object, or on the old
// object after the object did not match, fails the review.
func (s *Set) review(ctx context.Context, m *Match, r *manifest.Resource, old ast.Value) (bool, error) {
	ns := s.namespaceOf(ctx, r, m)
	ok, err := m.Matches(objectOf(r), ns)
	if ok || err != nil || old == nil {
		return ok, err
	}
	if o, isObj := objectOfValueFor(old, m.LabelSelector != nil || m.NamespaceSelector != nil); isObj {
		return m.Matches(o, ns)
	}
	return false, nil
}

// namespaceOf is the Namespace object a review of r under m comes with
// (nil: none), by the set's match mode. For a manifest r.Namespace is its
// metadata.namespace; for an admission request it is the request's
// namespace. At admission the cluster's Namespace is only handed to a
// match with a namespaceSelector: without one the Namespace's name is all
// the match reads, which is the object's namespace (attest serve fills
// metadata.namespace from the request), so the review costs nothing more.
func (s *Set) namespaceOf(ctx context.Context, r *manifest.Resource, m *Match) *Namespace {
	name := r.Namespace
	if s.mode == modeGatorTest {
		if name == "" {
			return &Namespace{}
		}
		if ns := s.cluster.namespaceObject(name); ns != nil {
			return ns
		}
		if name == "default" {
			return &Namespace{Name: "default"}
		}
		return nil
	}
	if name == "" {
		return nil
	}
	if ns := s.cluster.namespaceObject(name); ns != nil || s.mode != modeAdmission || s.lookup == nil || m.NamespaceSelector == nil {
		return ns
	}
	if r.APIVersion == "v1" && r.Kind == "Namespace" {
		// A Namespace is matched by its own name and labels; Gatekeeper's
		// webhook hands it no Namespace (a server-side apply request names
		// the Namespace itself as the request's namespace).
		return nil
	}
	return s.clusterNamespace(ctx, name)
}

// clusterNamespace is the Namespace called name as the set's lookup reads
// it, when a namespaceSelector first needs its labels (once per
// constraint's review: the object and the old object share it; the
// lookup itself keeps what the other constraints of the same request
// ask for again). A Namespace the cluster does
// not have fails the review, as in Gatekeeper's webhook, which refuses a
// request whose Namespace it cannot get.
func (s *Set) clusterNamespace(ctx context.Context, name string) *Namespace {
	return &Namespace{Name: name, load: sync.OnceValues(func() (map[string]string, error) {
		labels, found, err := s.lookup.Labels(ctx, name)
		switch {
		case err != nil:
			return nil, fmt.Errorf("cannot read the labels of Namespace %q for the namespaceSelector: %w", name, err)
		case !found:
			return nil, fmt.Errorf("no Namespace %q in the cluster, whose labels the namespaceSelector needs", name)
		}
		return labels, nil
	})}
}

// autorejectSource is what a review whose match fails yields, in
// Gatekeeper's words (frameworks' ErrAutoreject around target.ErrMatching
// around match.ErrMatch around the matcher's error), with the object's name
// as the matcher gives it. details.namespace names the namespace whose
// Namespace object was missing.
const autorejectSource = `package autoreject

violation contains {"msg": msg, "details": {"namespace": namespace}} if {
	msg := concat("", [
		"unable to match constraints: error matching the requested object: ",
		name,
		" :failed to run Match criteria: namespace selector for namespace-scoped object but missing Namespace",
	])
}

default name := ""

name := n if {
	n := input.review.object.metadata.name
	is_string(n)
}

default namespace := ""

namespace := n if {
	n := input.review.namespace
	is_string(n)
	n != ""
} else := n if {
	n := input.review.object.metadata.namespace
	is_string(n)
}
`

// autorejectPolicy gives, beside a template's policy, one that reports
// Gatekeeper's autoreject: when a constraint's match cannot be evaluated
// (a namespaceSelector on an object whose Namespace object is not among
// the inputs), Gatekeeper does not evaluate the constraint but counts a
// violation with the constraint's enforcement action. It has the
// template's name and one instance per constraint with a
// namespaceSelector, whose match is "the match failed"; nil when no
// constraint needs one, and always in admission mode (there the
// Namespace comes from the cluster, and one that cannot be read fails the
// review; without a NamespaceLookup the selector does not match).
func (s *Set) autorejectPolicy(ct *compiledTemplate) (*policy.Policy, *policy.Module) {
	if s.mode == modeAdmission {
		return nil, nil
	}
	var insts []policy.Instance
	for _, c := range s.constraints[ct.t.Kind] {
		if c.Match.NamespaceSelector == nil {
			continue
		}
		enf, ok := c.EnforcementAt(s.point)
		if !ok {
			continue
		}
		insts = append(insts, policy.Instance{Name: c.Name, Enforcement: enf, Match: s.autorejecter(c)})
	}
	if len(insts) == 0 {
		return nil, nil
	}
	m, err := ast.ParseModuleWithOpts(ct.t.Location.File+"#autoreject", autorejectSource, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, nil // a constant that parses; never here
	}
	m.Package.Path = append(namespaceRef(ct.t.Name), ast.StringTerm("autoreject"))
	mod := &policy.Module{Path: ct.t.Location.File + "#" + ct.t.Name + "#autoreject", Source: []byte(autorejectSource), Parsed: m}
	p, _ := policy.FromModules(ct.t.Name, policy.StyleGatekeeper, []*policy.Module{mod}, "violation")
	p.Engine = EngineName
	p.Title = ct.t.Title
	p.Description = ct.t.Description
	for _, r := range p.Rules {
		r.ID = ct.t.Name + "/autoreject"
		r.Title = "Gatekeeper autoreject: the constraint's match cannot be evaluated"
		r.Description = "The constraint has a namespaceSelector and the object is in a namespace whose Namespace object is not among the inputs (gator verify: the case's inventory), so Gatekeeper cannot evaluate the selector; it does not evaluate the constraint and counts a violation instead."
		r.Remediation = "Add the Namespace object (with its labels) to the inputs."
	}
	p.Instances = insts
	return p, mod
}

// Observe feeds the first pass.
// Without a template reading data.inventory only Namespaces are kept.
func (s *Set) Observe(r *manifest.Resource) {
	if s.inventory {
		s.cluster.Observe(r)
		return
	}
	if r != nil && r.APIVersion == "v1" && r.Kind == "Namespace" {
		s.cluster.mu.Lock()
		s.cluster.namespaces[r.Name] = r.Labels
		s.cluster.mu.Unlock()
	}
}

// Data is the base document the engine needs after the first pass.
func (s *Set) Data() map[string]any {
	if !s.inventory {
		return nil
	}
	return map[string]any{"inventory": s.cluster.Inventory()}
}

// LoadPaths reads every ConstraintTemplate and Constraint in YAML and JSON
// files under paths (files or directories, walked recursively, skipping
// hidden directories).
func LoadPaths(ctx context.Context, paths ...string) (Objects, []finding.Error) {
	var objs Objects
	var errs []finding.Error
	read := safefile.Visited{}
	for _, root := range paths {
		if ctx.Err() != nil {
			break
		}
		info, err := os.Stat(root)
		if err != nil {
			continue // policy.Load reports missing policy paths
		}
		if !info.IsDir() && !policy.IsObjectFile(root) {
			continue
		}
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if p != root && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			if !policy.IsObjectFile(p) || !read.First(p) {
				return nil
			}
			o, ferrs := LoadFile(p)
			objs.Templates = append(objs.Templates, o.Templates...)
			objs.Constraints = append(objs.Constraints, o.Constraints...)
			errs = append(errs, ferrs...)
			return nil
		})
	}
	return objs, errs
}

// LoadFile reads one file.
func LoadFile(p string) (Objects, []finding.Error) {
	data, err := safefile.ReadFile(p, maxFile)
	var tooLarge *safefile.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return Objects{}, []finding.Error{{Location: finding.Location{File: p}, Message: "file is over the 8 MiB limit"}}
	case err != nil:
		return Objects{}, []finding.Error{{Location: finding.Location{File: p}, Message: "cannot read: " + errText(err)}}
	}
	return Parse(p, data)
}

func errText(err error) string {
	var pe *fs.PathError
	if e, ok := err.(*fs.PathError); ok {
		pe = e
		return pe.Err.Error()
	}
	return err.Error()
}
