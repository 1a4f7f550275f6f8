package project

import (
	"context"
	"errors"
	"fmt"

	"github.com/continuums/attest/internal/exemption"
)

// WithStoreExemptions gives a copy of p whose exemption matcher is built
// again, from the exemptions file and the annotation setting as Open built
// it, with fromStore as the approval store's exemptions. Engine, policies
// and loader are shared: only the matcher changes, so a long-running
// server applies an approval or a revocation without compiling anything.
// A problem in the exemptions file (edited since Open) is an error and no
// copy: the caller keeps the project it has until a full reload.
func (p *Project) WithStoreExemptions(ctx context.Context, fromStore []exemption.Exemption) (*Project, error) {
	np := *p
	np.Errors = nil
	list := exemption.ProviderFunc(func(context.Context) ([]exemption.Exemption, error) { return fromStore, nil })
	np.Exempter = np.exemptions(ctx, Options{StoreExemptions: list})
	if len(np.Errors) > 0 {
		errs := make([]error, len(np.Errors))
		for i, e := range np.Errors {
			errs[i] = e
		}
		return nil, fmt.Errorf("rebuild the exemptions: %w", errors.Join(errs...))
	}
	np.Errors = p.Errors
	return &np, nil
}
