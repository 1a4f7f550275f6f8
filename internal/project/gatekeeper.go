package project

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/gatekeeper"
	"github.com/continuums/attest/internal/policy"
)

// loadGatekeeper (after the config has been applied to the Rego policies,
// so opa_enabled: false leaves these alone) adds the ConstraintTemplates and Constraints found among
// the policy paths to set, when policy.gatekeeper_enabled (default true)
// allows, and returns the engine options they need: the first pass that
// builds data.inventory and learns the namespaces' labels. In admission
// mode the constraints also read the cluster's Namespaces through
// o.NamespaceLookup, when there is one.
func (p *Project) loadGatekeeper(ctx context.Context, cfg *config.Config, o Options, set *policy.Set) []engine.Option {
	if cfg.Policy.GatekeeperEnabled != nil && !*cfg.Policy.GatekeeperEnabled {
		return nil
	}
	if cfg.Policy.Enabled != nil && !*cfg.Policy.Enabled {
		return nil
	}
	var paths []string
	// With a verified copy (attest serve with bundle keys), the bundle
	// path's own files are not read again: OPA's bundle format carries no
	// Gatekeeper objects, so a YAML file there is covered by no signature.
	verified := o.BundleCopy != ""
	policiesDir, bp := filepath.Join(o.Dir, "policies"), BundlePath(cfg, o.Dir)
	if isDir(policiesDir) && !(verified && bp == policiesDir) {
		paths = append(paths, policiesDir)
	}
	if bp != "" && !verified && bp != policiesDir && isDir(bp) {
		paths = append(paths, bp)
	}
	paths = append(paths, o.PolicyPaths...)
	objs, errs := gatekeeper.LoadPaths(ctx, paths...)
	p.Errors = append(p.Errors, errs...)
	if len(objs.Templates) == 0 && len(objs.Constraints) == 0 {
		return nil
	}
	bopts := []gatekeeper.BuildOption{gatekeeper.WithEnforcementPoint(gatekeeper.PointGator)}
	if o.Mode == "admission" {
		bopts = []gatekeeper.BuildOption{gatekeeper.WithEnforcementPoint(gatekeeper.PointValidation),
			gatekeeper.WithNamespaceLookup(o.NamespaceLookup)}
	}
	gk, berrs := gatekeeper.Build(objs, bopts...)
	p.Errors = append(p.Errors, berrs...)
	pols, mods, perrs := gk.Policies()
	p.Errors = append(p.Errors, perrs...)
	set.Add(pols, mods)
	p.Gatekeeper = gk
	if n := len(objs.Templates); n > 0 {
		p.Notes = append(p.Notes, finding.Note{Message: gatekeeperNote(n, len(objs.Constraints))})
	}
	return []engine.Option{engine.WithFirstPass(gk)}
}

func gatekeeperNote(templates, constraints int) string {
	return "Gatekeeper: " + plural(templates, "ConstraintTemplate") + " and " + plural(constraints, "Constraint") + " evaluated (policy.gatekeeper_enabled)"
}

func plural(n int, word string) string {
	s := word + "s"
	if n == 1 {
		s = word
	}
	return strconv.Itoa(n) + " " + s
}

// EngineContext is the static input.context the engine evaluates with
// (gatekeeper generate bakes it into the templates' wrappers).
func (p *Project) EngineContext() map[string]any { return p.engineContext("admission") }

// Exemptions lists the project's file exemptions and the approval store's
// approved ones as read when the project was opened (errors are already in
// p.Errors from Open).
func (p *Project) Exemptions() []exemption.Exemption {
	return slices.Clone(p.exemptionList)
}
