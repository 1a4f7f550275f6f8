// Package attestation is the seam between the Rego library and whatever
// proves that an image was attested or a deployment carries a valid receipt.
// The library calls two custom built-ins; this package declares them and
// binds them to a Verifier. Until a store is configured, NoStore answers
// "not verified" for everything, which is what the spec's rule then reports.
package attestation

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/types"
)

// Verifier answers the two questions the built-in library asks.
type Verifier interface {
	// AttestationVerified reports whether the image (by digest, or by tag
	// resolved by the store) has a verified attestation.
	AttestationVerified(ctx context.Context, image string) (bool, error)
	// ReceiptVerified reports whether the receipt attached to the object
	// (the value of the attest.continuu.ms/receipt annotation) is valid for
	// that object.
	ReceiptVerified(ctx context.Context, receipt string, object any) (bool, error)
}

// NoStore is the verifier used when no attestation store is configured:
// nothing is verified.
type NoStore struct{}

func (NoStore) AttestationVerified(context.Context, string) (bool, error) { return false, nil }
func (NoStore) ReceiptVerified(context.Context, string, any) (bool, error) {
	return false, nil
}

// Names of the custom built-ins, as Rego calls them.
const (
	AttestationBuiltin = "attest.attestation_verified"
	ReceiptBuiltin     = "attest.receipt_verified"
)

var (
	attestationDecl = &rego.Function{
		Name:             AttestationBuiltin,
		Decl:             types.NewFunction(types.Args(types.Named("image", types.S)), types.Named("verified", types.B)),
		Memoize:          true,
		Nondeterministic: true,
	}
	receiptDecl = &rego.Function{
		Name: ReceiptBuiltin,
		Decl: types.NewFunction(
			types.Args(types.Named("receipt", types.S), types.Named("object", types.A)),
			types.Named("verified", types.B)),
		Memoize:          true,
		Nondeterministic: true,
	}
)

// RegoOptions binds the built-ins to v for a rego.Rego or PreparedEvalQuery.
func RegoOptions(v Verifier) []func(*rego.Rego) {
	if v == nil {
		v = NoStore{}
	}
	return []func(*rego.Rego){
		rego.Function1(attestationDecl, func(bctx rego.BuiltinContext, image *ast.Term) (*ast.Term, error) {
			s, ok := image.Value.(ast.String)
			if !ok {
				return nil, fmt.Errorf("%s: image must be a string", AttestationBuiltin)
			}
			ok, err := v.AttestationVerified(bctx.Context, string(s))
			if err != nil {
				return nil, err
			}
			return ast.BooleanTerm(ok), nil
		}),
		rego.Function2(receiptDecl, func(bctx rego.BuiltinContext, receipt, obj *ast.Term) (*ast.Term, error) {
			s, ok := receipt.Value.(ast.String)
			if !ok {
				return nil, fmt.Errorf("%s: receipt must be a string", ReceiptBuiltin)
			}
			o, err := ast.JSON(obj.Value)
			if err != nil {
				return nil, err
			}
			ok, err = v.ReceiptVerified(bctx.Context, string(s), o)
			if err != nil {
				return nil, err
			}
			return ast.BooleanTerm(ok), nil
		}),
	}
}

// Declarations returns the built-ins' type declarations, for compilers that
// only need to type-check (validate, conflicts).
func Declarations() []*ast.Builtin {
	return []*ast.Builtin{
		{Name: attestationDecl.Name, Decl: attestationDecl.Decl, Nondeterministic: true},
		{Name: receiptDecl.Name, Decl: receiptDecl.Decl, Nondeterministic: true},
	}
}

// TesterBuiltins gives the same built-ins to OPA's test runner, so the
// library's _test.rego files run against the real functions (and can still
// replace them with `with attest.attestation_verified as ...`).
func TesterBuiltins(v Verifier) []*tester.Builtin {
	opts := RegoOptions(v)
	decls := Declarations()
	out := make([]*tester.Builtin, len(opts))
	for i := range opts {
		out[i] = &tester.Builtin{Decl: decls[i], Func: opts[i]}
	}
	return out
}
