package gatekeeper

import (
	"context"

	"github.com/continuums/attest/internal/check"
	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
)

// Test is `gator test`: the ConstraintTemplates and Constraints found under
// paths are the policies, every other object under them is reviewed, and
// all of those objects form data.inventory and the namespaces for
// namespaceSelector. It runs through the same pipeline as `policy check`
// (streamed, in parallel, one engine), so it scales the same way. Problems
// with the templates and constraints come back in the Result's Errors.
func Test(ctx context.Context, paths []string, parallel int) (*finding.Result, error) {
	objs, errs := LoadPaths(ctx, paths...)
	gk, berrs := Build(objs)
	errs = append(errs, berrs...)
	pols, mods, perrs := gk.Policies()
	errs = append(errs, perrs...)
	eng, cerrs, err := engine.New(ctx, &policy.Set{Policies: pols, Modules: mods},
		engine.WithEngineName(EngineName), engine.WithFirstPass(gk))
	errs = append(errs, cerrs...)
	if err != nil {
		return &finding.Result{Errors: errs}, err
	}
	loader := manifest.NewLoader()
	files, derrs := loader.Discover(ctx, paths)
	res := check.Run(ctx, loader, eng, files, check.WithParallel(parallel), check.WithSkip(IsPolicyObject))
	res.Errors = append(append(errs, derrs...), res.Errors...)
	res.Rules = eng.Rules()
	res.Sort()
	return res, nil
}

// IsPolicyObject reports whether r is a ConstraintTemplate or a Constraint:
// a policy, not an object to review.
func IsPolicyObject(r *manifest.Resource) bool {
	return r.Kind == "ConstraintTemplate" && IsTemplateAPIVersion(r.APIVersion) || IsConstraintAPIVersion(r.APIVersion)
}
