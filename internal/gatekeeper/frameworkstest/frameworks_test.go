package frameworkstest

// Proof that Gatekeeper accepts what `attest gatekeeper generate` writes and
// enforces it with the same verdicts as attest: the generated templates and
// constraints are loaded into Gatekeeper's own constraint framework
// (github.com/open-policy-agent/frameworks/constraint, the library gator and
// the admission webhook run on) and both engines review the same manifests.
//
// The frameworks module is heavy (about 1,200 packages), which is why it is
// imported from this test file only: the attest binary does not link it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis"
	fclient "github.com/open-policy-agent/frameworks/constraint/pkg/client"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers/rego"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/constraints"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	"github.com/open-policy-agent/frameworks/constraint/pkg/handler"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/continuums/attest/internal/cli"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/gatekeeper"
	"github.com/continuums/attest/internal/manifest"
)

// ---------------------------------------------------------------------------
// A K8sValidation-style target handler. Gatekeeper's own (pkg/target) lives in
// the gatekeeper/v3 module, which does not compile against this module's
// k8s.io v0.37.2, so this is a faithful reduction of it: the same target
// name, the same data keys (data.inventory layout), the same review shape
// (an admission request: kind, name, namespace, operation, object) and the
// match semantics of gatekeeper's pkg/mutation/match (kinds, scope,
// namespaces, excludedNamespaces, labelSelector, namespaceSelector, name).
// It is written from Gatekeeper's source, not from attest's match.go, so the
// comparison below is between two independent implementations.

type k8sTarget struct{ ns nsCache }

var (
	_ handler.TargetHandler = (*k8sTarget)(nil)
	_ handler.Cacher        = (*k8sTarget)(nil)
)

func (*k8sTarget) GetName() string { return gatekeeper.Target }

// ProcessData gives the inventory key Gatekeeper uses:
// cluster/<apiVersion>/<kind>/<name> or namespace/<ns>/<apiVersion>/<kind>/<name>.
func (*k8sTarget) ProcessData(obj any) (bool, []string, any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return false, nil, nil, nil
	}
	gvk := u.GroupVersionKind()
	if gvk.Version == "" || gvk.Kind == "" {
		return true, nil, nil, fmt.Errorf("resource %s has no version or kind", u.GetName())
	}
	if u.GetNamespace() == "" {
		return true, []string{"cluster", gvk.GroupVersion().String(), gvk.Kind, u.GetName()}, u.Object, nil
	}
	return true, []string{"namespace", u.GetNamespace(), gvk.GroupVersion().String(), gvk.Kind, u.GetName()}, u.Object, nil
}

// gkReview is what input.review is built from: the frameworks driver
// round-trips it through JSON, so only the AdmissionRequest fields show.
type gkReview struct {
	admissionv1.AdmissionRequest
}

func (*k8sTarget) HandleReview(obj any) (bool, any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return false, nil, nil
	}
	raw, err := u.MarshalJSON()
	if err != nil {
		return false, nil, err
	}
	gvk := u.GroupVersionKind()
	return true, &gkReview{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Object:    runtime.RawExtension{Raw: raw},
		Name:      u.GetName(),
		Namespace: u.GetNamespace(),
		// gator reviews objects as CREATE requests too.
		Operation: admissionv1.Create,
	}}, nil
}

// MatchSchema is the schema of spec.match in every constraint CRD; the
// client validates constraints against it.
func (*k8sTarget) MatchSchema() apiextensions.JSONSchemaProps {
	str := apiextensions.JSONSchemaProps{Type: "string"}
	strs := apiextensions.JSONSchemaProps{Type: "array", Items: &apiextensions.JSONSchemaPropsOrArray{Schema: &str}}
	selector := apiextensions.JSONSchemaProps{Type: "object", Properties: map[string]apiextensions.JSONSchemaProps{
		"matchLabels": {Type: "object", AdditionalProperties: &apiextensions.JSONSchemaPropsOrBool{Allows: true, Schema: &str}},
		"matchExpressions": {Type: "array", Items: &apiextensions.JSONSchemaPropsOrArray{Schema: &apiextensions.JSONSchemaProps{
			Type: "object",
			Properties: map[string]apiextensions.JSONSchemaProps{
				"key": str, "operator": str, "values": strs,
			},
		}}},
	}}
	return apiextensions.JSONSchemaProps{Type: "object", Properties: map[string]apiextensions.JSONSchemaProps{
		"kinds": {Type: "array", Items: &apiextensions.JSONSchemaPropsOrArray{Schema: &apiextensions.JSONSchemaProps{
			Type:       "object",
			Properties: map[string]apiextensions.JSONSchemaProps{"apiGroups": strs, "kinds": strs},
		}}},
		"scope":              {Type: "string", Enum: []apiextensions.JSON{"*", "Cluster", "Namespaced"}},
		"namespaces":         strs,
		"excludedNamespaces": strs,
		"labelSelector":      selector,
		"namespaceSelector":  selector,
		"name":               str,
		"source":             str,
	}}
}

func (*k8sTarget) ValidateConstraint(u *unstructured.Unstructured) error {
	for _, field := range []string{"labelSelector", "namespaceSelector"} {
		if _, err := selectorAt(u.Object, field); err != nil {
			return err
		}
	}
	return nil
}

type k8sMatch struct {
	Kinds []struct {
		APIGroups []string `json:"apiGroups"`
		Kinds     []string `json:"kinds"`
	} `json:"kinds"`
	Scope              string                `json:"scope"`
	Namespaces         []string              `json:"namespaces"`
	ExcludedNamespaces []string              `json:"excludedNamespaces"`
	LabelSelector      *metav1.LabelSelector `json:"labelSelector"`
	NamespaceSelector  *metav1.LabelSelector `json:"namespaceSelector"`
	Name               string                `json:"name"`
}

func selectorAt(obj map[string]any, field string) (*metav1.LabelSelector, error) {
	m, found, err := unstructured.NestedMap(obj, "spec", "match", field)
	if err != nil || !found {
		return nil, err
	}
	b, _ := json.Marshal(m)
	var sel metav1.LabelSelector
	if err := json.Unmarshal(b, &sel); err != nil {
		return nil, err
	}
	_, err = metav1.LabelSelectorAsSelector(&sel)
	return &sel, err
}

func (h *k8sTarget) ToMatcher(u *unstructured.Unstructured) (constraints.Matcher, error) {
	m, found, err := unstructured.NestedMap(u.Object, "spec", "match")
	if err != nil {
		return nil, err
	}
	if !found {
		return k8sMatcher{}, nil
	}
	b, _ := json.Marshal(m)
	var km k8sMatch
	if err := json.Unmarshal(b, &km); err != nil {
		return nil, err
	}
	return k8sMatcher{m: &km, ns: &h.ns}, nil
}

func (h *k8sTarget) GetCache() handler.Cache { return &h.ns }

// nsCache keeps the Namespace objects added as data, for namespaceSelector.
type nsCache struct {
	mu sync.Mutex
	m  map[string]*unstructured.Unstructured
}

func (c *nsCache) Add(key []string, obj any) error {
	m, ok := obj.(map[string]any)
	if !ok {
		return fmt.Errorf("cannot cache %T", obj)
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetKind() != "Namespace" || u.GroupVersionKind().Group != "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*unstructured.Unstructured{}
	}
	c.m[u.GetName()] = u
	return nil
}

func (c *nsCache) Remove(key []string) {
	if len(key) == 4 && key[0] == "cluster" && key[2] == "Namespace" {
		c.mu.Lock()
		delete(c.m, key[3])
		c.mu.Unlock()
	}
}

func (c *nsCache) get(name string) *unstructured.Unstructured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

type k8sMatcher struct {
	m  *k8sMatch
	ns *nsCache
}

// globMatch: Gatekeeper's wildcard type, a leading or trailing '*'.
func globMatch(pattern, s string) bool {
	switch {
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(s, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(s, strings.TrimPrefix(pattern, "*"))
	}
	return pattern == s
}

func anyGlob(patterns []string, s string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return globMatch(p, s) })
}

func (m k8sMatcher) Match(review any) (bool, error) {
	if m.m == nil {
		return true, nil
	}
	r, ok := review.(*gkReview)
	if !ok {
		return false, fmt.Errorf("review is %T", review)
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(r.Object.Raw); err != nil {
		return false, err
	}
	gvk := obj.GroupVersionKind()
	isNamespace := gvk.Kind == "Namespace" && gvk.Group == ""
	var ns *unstructured.Unstructured
	if obj.GetNamespace() != "" {
		ns = m.ns.get(obj.GetNamespace())
	}
	hasNamespace := obj.GetNamespace() != ""
	// namespace the namespace matchers compare: a Namespace's own name,
	// else the object's; cluster-scoped objects are not affected.
	nsName := obj.GetNamespace()
	if isNamespace {
		nsName = obj.GetName()
	}
	mm := m.m
	if len(mm.Kinds) > 0 {
		ok := false
		for _, k := range mm.Kinds {
			kindOK := len(k.Kinds) == 0 || slices.Contains(k.Kinds, "*") || slices.Contains(k.Kinds, gvk.Kind)
			groupOK := len(k.APIGroups) == 0 || slices.Contains(k.APIGroups, "*") || slices.Contains(k.APIGroups, gvk.Group)
			if kindOK && groupOK {
				ok = true
				break
			}
		}
		if !ok {
			return false, nil
		}
	}
	switch mm.Scope {
	case "Cluster":
		if !isNamespace && hasNamespace {
			return false, nil
		}
	case "Namespaced":
		if isNamespace || !hasNamespace {
			return false, nil
		}
	}
	if len(mm.Namespaces) > 0 && nsName != "" && !anyGlob(mm.Namespaces, nsName) {
		return false, nil
	}
	if len(mm.ExcludedNamespaces) > 0 && nsName != "" && anyGlob(mm.ExcludedNamespaces, nsName) {
		return false, nil
	}
	if mm.LabelSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(mm.LabelSelector)
		if err != nil {
			return false, err
		}
		if !sel.Matches(labels.Set(obj.GetLabels())) {
			return false, nil
		}
	}
	if mm.NamespaceSelector != nil && (isNamespace || hasNamespace) {
		sel, err := metav1.LabelSelectorAsSelector(mm.NamespaceSelector)
		if err != nil {
			return false, err
		}
		var nsLabels map[string]string
		switch {
		case isNamespace:
			nsLabels = obj.GetLabels()
		case ns != nil:
			nsLabels = ns.GetLabels()
		default:
			// gator synthesises an unlabelled Namespace for an object
			// whose namespace is not among the inputs.
		}
		if !sel.Matches(labels.Set(nsLabels)) {
			return false, nil
		}
	}
	if mm.Name != "" && !globMatch(mm.Name, obj.GetName()) {
		return false, nil
	}
	return true, nil
}

// ---------------------------------------------------------------------------

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := apis.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// newFrameworks builds the client as gator test does: the Rego driver, the
// Kubernetes target, the gator enforcement point.
func newFrameworks(t *testing.T) *fclient.Client {
	t.Helper()
	driver, err := rego.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := fclient.NewClient(fclient.Targets(&k8sTarget{}), fclient.Driver(driver),
		fclient.EnforcementPoints(gatekeeper.PointGator))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// toTemplate converts an unstructured ConstraintTemplate as gator's reader
// does: through the versioned type into the versionless one.
func toTemplate(u *unstructured.Unstructured) (*templates.ConstraintTemplate, error) {
	obj, err := scheme.New(u.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	b, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, obj); err != nil {
		return nil, err
	}
	v, ok := obj.(interface {
		ToVersionless() (*templates.ConstraintTemplate, error)
	})
	if !ok {
		return nil, fmt.Errorf("%T has no versionless form", obj)
	}
	return v.ToVersionless()
}

// readObjects reads every Kubernetes object (YAML documents or JSON) under
// the paths, as kubectl and gator read them.
func readObjects(t *testing.T, paths ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Ext(p) {
			case ".yaml", ".yml", ".json":
			default:
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(bytes.NewReader(data)), 4096)
			for {
				var m map[string]any
				if err := dec.Decode(&m); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return fmt.Errorf("%s: %w", p, err)
				}
				u := &unstructured.Unstructured{Object: m}
				if m == nil || u.GetAPIVersion() == "" || u.GetKind() == "" {
					continue // not a Kubernetes object (values files, empty documents)
				}
				// Normalise numbers (int64/float64) as the API server would.
				b, _ := json.Marshal(m)
				u = &unstructured.Unstructured{}
				if err := u.UnmarshalJSON(b); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				out = append(out, u)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func isTemplate(u *unstructured.Unstructured) bool {
	return u.GetKind() == "ConstraintTemplate" && gatekeeper.IsTemplateAPIVersion(u.GetAPIVersion())
}

func isConstraint(u *unstructured.Unstructured) bool {
	return gatekeeper.IsConstraintAPIVersion(u.GetAPIVersion())
}

// violation is what both engines must agree on: the resource, the
// constraint (for attest's own findings: the constraint generated from the
// finding's policy), its enforcement action, the message and the attest
// rule that fired (generated templates put it in details.attest_rule; for
// attest's own findings it is the finding's rule id).
type violation struct{ resource, constraint, action, message, rule string }

func (v violation) String() string {
	return v.resource + " [" + v.action + " " + v.constraint + "] " + v.message + " (rule " + v.rule + ")"
}

// attestRule reads details.attest_rule, which generated templates set.
func attestRule(details any) string {
	d, _ := details.(map[string]any)
	r, _ := d["attest_rule"].(string)
	return r
}

// actions maps attest's enforcement to Gatekeeper's enforcementAction, as
// docs/gatekeeper.md says generate does.
var actions = map[string]string{"strict": "deny", "warn": "warn", "dryrun": "dryrun"}

func resourceRef(kind, ns, name string) string {
	if ns == "" {
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

// frameworksReview loads templates and constraints (each must be accepted)
// and all objects as data, then reviews every object that is not a
// template or constraint, as gator test does.
func frameworksReview(t *testing.T, policies, objects []*unstructured.Unstructured) (tpls, cons int, out []violation) {
	t.Helper()
	ctx := context.Background()
	c := newFrameworks(t)
	for _, u := range policies {
		if !isTemplate(u) {
			continue
		}
		tpl, err := toTemplate(u)
		if err != nil {
			t.Fatalf("template %s: %v", u.GetName(), err)
		}
		if _, err := c.AddTemplate(ctx, tpl); err != nil {
			t.Errorf("Gatekeeper rejects generated template %s: %v", u.GetName(), err)
			continue
		}
		tpls++
	}
	for _, u := range policies {
		if !isConstraint(u) {
			continue
		}
		if _, err := c.AddConstraint(ctx, u); err != nil {
			t.Errorf("Gatekeeper rejects generated constraint %s %s: %v", u.GetKind(), u.GetName(), err)
			continue
		}
		cons++
	}
	for _, u := range objects {
		if _, err := c.AddData(ctx, u); err != nil {
			t.Fatalf("data %s/%s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	for _, u := range objects {
		resp, err := c.Review(ctx, u, reviews.EnforcementPoint(gatekeeper.PointGator))
		if err != nil {
			t.Fatalf("review %s/%s: %v", u.GetKind(), u.GetName(), err)
		}
		for _, r := range resp.Results() {
			out = append(out, violation{resource: resourceRef(u.GetKind(), u.GetNamespace(), u.GetName()),
				constraint: r.Constraint.GetName(), action: r.EnforcementAction, message: r.Msg,
				rule: attestRule(r.Metadata["details"])})
		}
	}
	return tpls, cons, out
}

// runAttest runs the attest CLI in-process and returns its stdout.
func runAttest(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, _, code := runAttestErr(t, args...)
	return out, code
}

// runAttestErr runs the attest CLI in-process and returns its stdout,
// stderr and exit code; an exit code above 1 (errors) fails the test.
func runAttestErr(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Execute(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code > 1 {
		t.Fatalf("attest %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String(), errb.String(), code
}

// generate runs `attest gatekeeper generate` and returns its notes. Any
// error fails the test: a non-zero exit, and any line on stderr that is not
// a note (generate prints the project's errors, such as an exemptions
// file entry it could not load, and goes on with exit 0).
func generate(t *testing.T, project, out string) []string {
	t.Helper()
	_, stderr, code := runAttestErr(t, "gatekeeper", "generate", "--project", project, "--output", out)
	if code != 0 {
		t.Fatalf("attest gatekeeper generate: exit %d\n%s", code, stderr)
	}
	var notes, errs []string
	for _, line := range strings.Split(stderr, "\n") {
		if line == "" {
			continue
		}
		if n, ok := strings.CutPrefix(line, "note: "); ok {
			notes = append(notes, n)
			continue
		}
		errs = append(errs, line)
	}
	if len(errs) > 0 {
		t.Fatalf("attest gatekeeper generate reported errors:\n  %s", strings.Join(errs, "\n  "))
	}
	return notes
}

// attestCheck: `attest policy check --no-builtin --policy GEN --format json`
// from an empty project, so only the generated files are the policies.
// Exempted findings count too: Gatekeeper knows no exemptions.
func attestCheck(t *testing.T, gen string, manifests ...string) []violation {
	t.Helper()
	empty := t.TempDir()
	args := append([]string{"policy", "check", "--project", empty, "--no-builtin", "--policy", gen, "--format", "json"}, manifests...)
	out, _ := runAttest(t, args...)
	var rep struct {
		Errors   int
		Findings []struct {
			Engine, Constraint, Message, Kind, Enforcement string
			Resource                                       struct{ Kind, Namespace, Name string }
			Details                                        map[string]any
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("policy check output: %v\n%s", err, out)
	}
	if rep.Errors != 0 {
		t.Fatalf("policy check reported %d errors:\n%s", rep.Errors, out)
	}
	var vs []violation
	for _, f := range rep.Findings {
		if f.Engine != gatekeeper.EngineName {
			t.Fatalf("finding from engine %q: only generated Gatekeeper policies should run", f.Engine)
		}
		vs = append(vs, violation{resource: resourceRef(f.Resource.Kind, f.Resource.Namespace, f.Resource.Name),
			constraint: f.Constraint, action: actions[f.Enforcement], message: f.Message, rule: attestRule(f.Details)})
	}
	return vs
}

func sortedStrings(vs []violation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	slices.Sort(out)
	return out
}

// isolate keeps the user's global configuration out of the projects.
func isolate(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
}

// specProject is a project whose .attest/policies.yaml is spec section 4's,
// with the built-in library, a custom policy limited to namespaced
// resources (level Namespace), and exemptions of every shape generate
// handles: a whole namespace (sandbox, every kind resource-limits
// matches: excludedNamespaces), a namespace for one kind of several
// (image-security, Pods of sandbox: a note), one resource (a note) and an
// expired one (not honoured: a note).
func specProject(t *testing.T) string {
	dir := t.TempDir()
	write(t, filepath.Join(dir, ".attest", "policies.yaml"), `policies:
  - name: "image-security"
    enabled: true
    enforcement: "strict"
    parameters:
      trusted_registries:
        - "gcr.io/"
        - "registry.company.com/"
      require_attestation: true
  - name: "resource-limits"
    enabled: true
    enforcement: "warn"
    parameters:
      max_cpu: "2000m"
      max_memory: "4Gi"
      require_limits: true
policy:
  custom_policies:
    - name: "audit-flag"
      description: "Objects labelled audit: flag"
      level: "Namespace"
      rego_code: |
        package custom.audit_flag

        import rego.v1

        # METADATA
        # title: Flagged for audit
        # custom:
        #   kinds: [Deployment, ClusterRole]
        violation contains {"violated": true, "message": msg} if {
          input.resource.metadata.labels.audit == "flag"
          msg := sprintf("%s %s is flagged for audit", [input.resource.kind, input.resource.metadata.name])
        }
`)
	var ex strings.Builder
	ex.WriteString("exemptions:\n")
	for _, kind := range []string{"Pod", "PodTemplate", "ReplicationController", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"} {
		fmt.Fprintf(&ex, `  - policy_name: "resource-limits"
    resource_kind: %q
    resource_name: "*"
    resource_namespace: "sandbox"
    reason: "load tests set their own limits"
    expires_at: "2099-01-01T00:00:00Z"
    approved_by: "security-team@company.com"
`, kind)
	}
	ex.WriteString(`  - policy_name: "image-security"
    resource_kind: "Pod"
    resource_name: "*"
    resource_namespace: "sandbox"
    reason: "load generators pull public images"
    expires_at: "2099-01-01"
    approved_by: "security-team@company.com"
  - policy_name: "image-security"
    resource_kind: "Deployment"
    resource_name: "api"
    resource_namespace: "production"
    reason: "migration image"
    expires_at: "2099-01-01"
    approved_by: "security-team@company.com"
  - policy_name: "resource-limits"
    resource_kind: "Pod"
    resource_name: "*"
    resource_namespace: "staging"
    reason: "was a load test"
    expires_at: "2024-01-01"
    approved_by: "security-team@company.com"
`)
	write(t, filepath.Join(dir, ".attest", "exemptions.yaml"), ex.String())
	return dir
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// handmade manifests exercise what examples/k8s lacks: untrusted and
// trusted registries, limits over the maximum, a cluster-scoped object, the
// excluded namespace (a Pod and a Deployment in sandbox), an init
// container, objects labelled for the audit-flag policy (a namespaced one
// and a cluster-scoped one, which its level Namespace leaves out).
const handmade = `apiVersion: v1
kind: Namespace
metadata:
  name: sandbox
  labels:
    team: perf
---
apiVersion: v1
kind: Pod
metadata:
  name: big
  namespace: sandbox
spec:
  containers:
    - name: app
      image: docker.io/library/nginx:latest
      resources:
        limits: {cpu: "8", memory: 64Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: loadgen
  namespace: sandbox
  labels: {audit: flag}
spec:
  selector: {matchLabels: {app: loadgen}}
  template:
    metadata: {labels: {app: loadgen}}
    spec:
      containers:
        - name: gen
          image: docker.io/grafana/k6:latest
          resources:
            limits: {cpu: "16", memory: 32Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: production
  labels: {app: api, audit: flag}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      initContainers:
        - name: migrate
          image: quay.io/acme/migrate:1.2
      containers:
        - name: api
          image: gcr.io/acme/api@sha256:0000000000000000000000000000000000000000000000000000000000000000
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 3000m, memory: 8Gi}
        - name: sidecar
          image: registry.company.com/proxy:2.0
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: everything
  labels: {audit: flag}
rules:
  - apiGroups: ["*"]
    resources: ["*"]
    verbs: ["*"]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: staging
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: job
              image: busybox
              securityContext: {privileged: true}
`

// generatedConstraint is what generate wrote for one attest policy.
type generatedConstraint struct {
	name, action string
	// carried are the exemptions behind the constraint's
	// excludedNamespaces (its attest.continuu.ms/exemptions annotation).
	carried []exemption.Exemption
}

// indexGenerated maps each attest policy to its constraint, reading only
// the generated objects: the template's attest.continuu.ms/policy
// annotation names the policy, its CRD kind the constraint's kind.
func indexGenerated(t *testing.T, objs []*unstructured.Unstructured, fileExemptions []exemption.Exemption) map[string]generatedConstraint {
	t.Helper()
	policyOfKind := map[string]string{}
	for _, u := range objs {
		if !isTemplate(u) {
			continue
		}
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "crd", "spec", "names", "kind")
		pol := u.GetAnnotations()["attest.continuu.ms/policy"]
		if kind == "" || pol == "" {
			t.Fatalf("template %s names no kind or no attest policy", u.GetName())
		}
		policyOfKind[kind] = pol
	}
	out := map[string]generatedConstraint{}
	for _, u := range objs {
		if !isConstraint(u) {
			continue
		}
		pol, ok := policyOfKind[u.GetKind()]
		if !ok {
			t.Fatalf("constraint %s %s has no generated template", u.GetKind(), u.GetName())
		}
		action, _, _ := unstructured.NestedString(u.Object, "spec", "enforcementAction")
		c := generatedConstraint{name: u.GetName(), action: action}
		if a := u.GetAnnotations()[gatekeeper.ExemptionsAnnotation]; a != "" {
			var list []struct{ ID string }
			if err := json.Unmarshal([]byte(a), &list); err != nil {
				t.Fatalf("constraint %s: annotation %s: %v", u.GetName(), gatekeeper.ExemptionsAnnotation, err)
			}
			for _, x := range list {
				i := slices.IndexFunc(fileExemptions, func(e exemption.Exemption) bool { return e.ID == x.ID })
				if i < 0 {
					t.Fatalf("constraint %s carries exemption %s, which the exemptions file does not hold", u.GetName(), x.ID)
				}
				c.carried = append(c.carried, fileExemptions[i])
			}
		}
		out[pol] = c
	}
	return out
}

// attestFinding is a finding of `attest policy check --format json`.
type attestFinding struct {
	Policy, Rule, Engine, Kind, Enforcement, Message string
	Resource                                         struct{ Kind, Namespace, Name string }
	Exemption                                        *struct{ ID, Source string }
}

// attestOriginal: `attest policy check --project P --format json` on the
// manifests, with the project's own policies (the built-in library among
// them), configuration and exemptions: what the generated objects stand in
// for.
func attestOriginal(t *testing.T, project string, manifests ...string) []attestFinding {
	t.Helper()
	args := append([]string{"policy", "check", "--project", project, "--format", "json"}, manifests...)
	out, _ := runAttest(t, args...)
	var rep struct {
		Errors   int
		Findings []attestFinding
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("policy check output: %v\n%s", err, out)
	}
	if rep.Errors != 0 {
		t.Fatalf("policy check reported %d errors:\n%s", rep.Errors, out)
	}
	return rep.Findings
}

// Why some of attest's findings have no Gatekeeper counterpart. Each is a
// documented limit of generate (docs/gatekeeper.md), and each is checked,
// not assumed: a finding is left out only for one of these reasons.
const (
	// A policy generate did not write (it calls attest.attestation_verified
	// or attest.receipt_verified, which need attest's attestation store, or
	// http.send; or it is not an attest-style policy): generate prints a
	// note naming it, and the test requires that note.
	reasonNotGenerated = "policy not generated (generate's note says why)"
	// warn rules are not carried over: Gatekeeper has no per-rule warnings
	// (a whole constraint warns, with enforcementAction warn).
	reasonWarnRule = "warn rule (Gatekeeper has no per-rule warnings)"
	// An exemption carried over as excludedNamespaces: attest keeps the
	// finding, marked exempted; Gatekeeper does not review the object.
	reasonExcludedNamespace = "exempted by an exemption carried over as excludedNamespaces"
)

// expectFromAttest gives the violations Gatekeeper must report for the
// generated objects, from attest's findings on the original policies, and
// counts the findings left out by reason. Exempted findings count unless
// an exemption carried over as excludedNamespaces covers them, which is
// decided by attest's own exemption.Matcher restricted to the carried
// exemptions: every other exemption (one resource, one rule, annotations,
// an expired one) is not expressible, and Gatekeeper reports what it
// exempts.
func expectFromAttest(t *testing.T, findings []attestFinding, gen map[string]generatedConstraint, notes []string) ([]violation, map[string]int) {
	t.Helper()
	left := map[string]int{}
	var want []violation
	for _, f := range findings {
		ref := resourceRef(f.Resource.Kind, f.Resource.Namespace, f.Resource.Name)
		if f.Kind == string(finding.KindError) {
			t.Errorf("attest could not evaluate %s on %s: %s", f.Policy, ref, f.Message)
			continue
		}
		c, ok := gen[f.Policy]
		if !ok {
			if !slices.ContainsFunc(notes, func(n string) bool {
				return strings.HasPrefix(n, f.Policy+": not expressible in Gatekeeper") ||
					strings.HasPrefix(n, f.Policy+": ") && strings.Contains(n, "-style policies are not generated")
			}) {
				t.Errorf("finding %s [%s] on %s: generate neither wrote a constraint for policy %s nor said why", f.Rule, f.Message, ref, f.Policy)
			}
			left[reasonNotGenerated+": "+f.Policy]++
			continue
		}
		if f.Kind == string(finding.KindWarning) {
			left[reasonWarnRule]++
			continue
		}
		if f.Exemption != nil && len(c.carried) > 0 {
			m := exemption.NewMatcher(exemption.WithExemptions(c.carried))
			fs := []finding.Finding{{Policy: f.Policy, Rule: f.Rule, Kind: finding.KindViolation}}
			m.Apply(&manifest.Resource{Kind: f.Resource.Kind, Namespace: f.Resource.Namespace, Name: f.Resource.Name}, fs)
			if fs[0].Exemption != nil {
				left[reasonExcludedNamespace]++
				continue
			}
		}
		want = append(want, violation{resource: ref, constraint: c.name, action: actions[f.Enforcement], message: f.Message, rule: f.Rule})
	}
	return want, left
}

// compare fails the test on any difference between the two multisets of
// violations, printing each (with attest's rule id where it has one).
func compare(t *testing.T, what string, gk, attest []violation) {
	t.Helper()
	rules := map[string][]string{}
	for _, v := range attest {
		if v.rule != "" {
			rules[v.String()] = append(rules[v.String()], v.rule)
		}
	}
	g, w := sortedStrings(gk), sortedStrings(attest)
	if slices.Equal(g, w) {
		return
	}
	onlyAttest := minus(w, g)
	for i, s := range onlyAttest {
		if r := rules[s]; len(r) > 0 {
			onlyAttest[i] = s + " (rule " + strings.Join(slices.Compact(slices.Sorted(slices.Values(r))), ", ") + ")"
		}
	}
	t.Errorf("Gatekeeper and %s disagree.\nonly Gatekeeper:\n  %s\nonly attest:\n  %s",
		what, listOrNone(minus(g, w)), listOrNone(onlyAttest))
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, "\n  ")
}

func TestFrameworksAcceptsGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("loads Gatekeeper's constraint framework")
	}
	isolate(t)
	examples, err := filepath.Abs("../../../examples")
	if err != nil {
		t.Fatal(err)
	}
	hand := filepath.Join(t.TempDir(), "handmade")
	write(t, filepath.Join(hand, "objects.yaml"), handmade)
	projects := []struct {
		name, dir string
		// check looks at what generate wrote for the project.
		check func(t *testing.T, gen map[string]generatedConstraint, notes []string, left map[string]int)
	}{
		{"examples", examples, nil},
		{"spec-section-4", specProject(t), checkSpecProject},
	}
	for _, p := range projects {
		t.Run(p.name, func(t *testing.T) {
			gen := t.TempDir()
			notes := generate(t, p.dir, gen)
			policies := readObjects(t, gen)
			manifests := []string{filepath.Join(examples, "k8s"), hand}
			objects := readObjects(t, manifests...)
			tpls, cons, got := frameworksReview(t, policies, objects)
			nt, nc := 0, 0
			for _, u := range policies {
				if isTemplate(u) {
					nt++
				} else if isConstraint(u) {
					nc++
				}
			}
			if nt == 0 || nc == 0 || tpls != nt || cons != nc {
				t.Fatalf("Gatekeeper accepted %d of %d templates and %d of %d constraints", tpls, nt, cons, nc)
			}
			if len(got) == 0 {
				t.Fatal("no violations at all: the comparison proves nothing")
			}

			// 1. attest's Gatekeeper engine on the generated objects.
			compare(t, "attest policy check --policy GENERATED", got, attestCheck(t, gen, manifests...))

			// 2. attest policy check with the project's own policies, the
			// comparison issue 3 asks for.
			fileExemptions, errs := exemption.LoadFile(filepath.Join(p.dir, ".attest", "exemptions.yaml"))
			if len(errs) > 0 {
				t.Fatalf("exemptions file: %v", errs)
			}
			index := indexGenerated(t, policies, fileExemptions)
			want, left := expectFromAttest(t, attestOriginal(t, p.dir, manifests...), index, notes)
			compare(t, "attest policy check (the original policies)", got, want)
			if p.check != nil {
				p.check(t, index, notes, left)
			}

			if t.Failed() {
				return
			}
			constraintsHit := map[string]bool{}
			for _, v := range got {
				constraintsHit[v.constraint] = true
			}
			reasons := slices.Sorted(maps.Keys(left))
			for i, r := range reasons {
				reasons[i] = fmt.Sprintf("%d: %s", left[r], r)
			}
			t.Logf("%s: Gatekeeper accepted %d templates and %d constraints; %d objects reviewed; %d violations from %d constraints, the same as attest's with the generated objects and with the original policies; attest findings without a Gatekeeper counterpart, by reason:\n  %s",
				p.name, tpls, cons, len(objects), len(got), len(constraintsHit), strings.Join(reasons, "\n  "))
		})
	}
}

// checkSpecProject: every exemption shape of specProject did what
// docs/gatekeeper.md says, and the comparison saw each of them at work.
func checkSpecProject(t *testing.T, gen map[string]generatedConstraint, notes []string, left map[string]int) {
	t.Helper()
	if c := gen["resource-limits"]; len(c.carried) != 9 {
		t.Errorf("resource-limits carries %d exemptions, want the 9 of namespace sandbox", len(c.carried))
	}
	if c := gen["image-security"]; len(c.carried) != 0 {
		t.Errorf("image-security carries %d exemptions, want none", len(c.carried))
	}
	if _, ok := gen["audit-flag"]; !ok {
		t.Error("no constraint for the custom policy audit-flag")
	}
	for _, want := range []string{
		"resource-limits: namespace sandbox is excluded from the constraint",
		"image-security: exemption image-security:Pod/sandbox/* is not carried over to Gatekeeper: the constraint also matches",
		"image-security: exemption image-security:Deployment/production/api is not carried over to Gatekeeper: it exempts one resource (api)",
		"resource-limits: exemption resource-limits:Pod/staging/* is not carried over to Gatekeeper: attest does not honour it (expired on 2024-01-01) either",
	} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("no note %q among:\n  %s", want, strings.Join(notes, "\n  "))
		}
	}
	if left[reasonExcludedNamespace] == 0 {
		t.Error("no finding was exempted through excludedNamespaces: the exclusion was not exercised")
	}
}

// minus lists the elements of a not in b (multiset difference).
func minus(a, b []string) []string {
	left := slices.Clone(b)
	var out []string
	for _, x := range a {
		if i := slices.Index(left, x); i >= 0 {
			left = slices.Delete(left, i, i+1)
			continue
		}
		out = append(out, x)
	}
	return out
}
