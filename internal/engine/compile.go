// Package engine evaluates Kubernetes resources against policies with OPA.
// Every module is compiled once and one query covering every enabled rule
// is prepared once; each resource is then one evaluation. The CLI, the
// admission webhook and Gatekeeper mode all go through here.
package engine

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/attestation"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/policy"
)

// collectRule is the rule the engine adds beside each result rule: a copy
// of its body whose head wraps the value with the rule's index, so one
// query returns every finding tagged with the rule that produced it,
// without changing the user's own rules (their tests see them as written).
const collectRule = "__attest_findings"

// compiled is the outcome of compiling a policy set.
type compiled struct {
	compiler *ast.Compiler
	policies []*policy.Policy   // enabled and compiled, in name order
	rules    []*policy.RuleSpec // indexed by the number in each result
	ruleOf   []int              // rule index -> policy index
	errs     []finding.Error
}

// compile builds the modules with the collector rules added. A module that
// does not compile is reported and dropped with its policy, and the rest is
// compiled again, so one broken file does not stop the run.
func compile(set *policy.Set, caps *ast.Capabilities, printStatements bool) (*compiled, error) {
	dropped := map[string]bool{} // module paths
	var errs []finding.Error
	for attempt := 0; attempt < 8; attempt++ {
		c, cerrs := compileOnce(set, caps, printStatements, dropped)
		if cerrs == nil {
			c.errs = errs
			return c, nil
		}
		progress := false
		for _, e := range withoutCollectorCopies(cerrs) {
			if slices.Contains(errs, e) {
				continue
			}
			errs = append(errs, e)
			if e.Location.File != "" && !dropped[e.Location.File] {
				dropped[e.Location.File] = true
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	return &compiled{errs: errs, compiler: ast.NewCompiler()}, errors.New("policies do not compile")
}

func compileOnce(set *policy.Set, caps *ast.Capabilities, printStatements bool, dropped map[string]bool) (*compiled, []finding.Error) {
	out := &compiled{}
	mods := map[string]*ast.Module{}
	// A policy is dropped whole when any of its modules is.
	droppedPkg := map[string]bool{}
	// A module is named in errors by the file its parser was given, which
	// is not its path when one file holds several modules (a
	// ConstraintTemplate's Rego and libs).
	isDropped := func(m *policy.Module) bool {
		return dropped[m.Path] || m.Parsed.Package.Location != nil && dropped[m.Parsed.Package.Location.File]
	}
	for _, m := range set.Modules {
		if isDropped(m) {
			droppedPkg[m.Package()] = true
		}
	}
	copies := map[*policy.Module]*ast.Module{}
	for _, m := range set.Modules {
		if isDropped(m) {
			continue
		}
		cp := m.Parsed.Copy()
		copies[m] = cp
		mods[m.Path] = cp
	}
	for _, p := range set.Policies {
		if !p.Enabled || droppedPkg[p.Package] {
			continue
		}
		pi := len(out.policies)
		out.policies = append(out.policies, p)
		for _, r := range p.Rules {
			cp := copies[r.Module]
			if cp == nil {
				continue
			}
			idx := slices.Index(r.Module.Parsed.Rules, r.Body)
			if idx < 0 {
				continue
			}
			cp.Rules = append(cp.Rules, collector(cp, cp.Rules[idx], len(out.rules)))
			out.rules = append(out.rules, r)
			out.ruleOf = append(out.ruleOf, pi)
		}
	}
	c := ast.NewCompiler().
		WithCapabilities(caps).
		WithEnablePrintStatements(printStatements).
		WithUseTypeCheckAnnotations(true)
	c.Compile(mods)
	if c.Failed() {
		return nil, policy.RegoErrors("", c.Errors)
	}
	out.compiler = c
	return out, nil
}

// ruleName matches the "rule NAME" that OPA's messages end with.
var ruleName = regexp.MustCompile(`rule [^ ]+$`)

// withoutCollectorCopies drops the errors the compiler reports for the
// collector copy of a rule when the rule itself has the same error (it
// always does for its body: the copy shares it), and names the collector
// in words where it stands alone, so users never see attest's internal
// rule name.
func withoutCollectorCopies(errs []finding.Error) []finding.Error {
	internal := "rule " + collectRule
	out := make([]finding.Error, 0, len(errs))
	for _, e := range errs {
		if !strings.Contains(e.Message, internal) {
			out = append(out, e)
			continue
		}
		norm := ruleName.ReplaceAllString(e.Message, "rule")
		dup := slices.ContainsFunc(errs, func(o finding.Error) bool {
			return o.Location == e.Location && !strings.Contains(o.Message, internal) &&
				ruleName.ReplaceAllString(o.Message, "rule") == norm
		})
		if !dup {
			e.Message = strings.ReplaceAll(e.Message, internal, "a result rule")
			out = append(out, e)
		}
	}
	return out
}

// collector copies a result rule under the collector name, with head
// {"r": index, "v": original value}.
func collector(m *ast.Module, r *ast.Rule, index int) *ast.Rule {
	cp := r.Copy()
	cp.Module = m
	cp.Annotations = nil
	cp.Else = nil
	name := ast.Var(collectRule)
	cp.Head.Name = name
	cp.Head.Reference = ast.Ref{ast.VarTerm(collectRule)}
	cp.Head.Key = ast.ObjectTerm(
		ast.Item(ast.StringTerm("r"), ast.IntNumberTerm(index)),
		ast.Item(ast.StringTerm("v"), r.Head.Key.Copy()),
	)
	return cp
}

// capabilities are OPA's own plus attest's built-ins.
func capabilities(extra []*ast.Builtin) *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = append(caps.Builtins, attestation.Declarations()...)
	caps.Builtins = append(caps.Builtins, extra...)
	return caps
}

// resultRef is data.<package>.<rule>.
func resultRef(p *policy.Policy, rule string) ast.Ref {
	ref := p.Modules[0].Parsed.Package.Path.Copy()
	return append(ref, ast.StringTerm(rule))
}

func policyVar(i int) ast.Var    { return ast.Var(fmt.Sprintf("__p%d", i)) }
func exceptionVar(i int) ast.Var { return ast.Var(fmt.Sprintf("__x%d", i)) }
