package attestation

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
)

type oneImage string

func (o oneImage) AttestationVerified(_ context.Context, image string) (bool, error) {
	return image == string(o), nil
}
func (o oneImage) ReceiptVerified(_ context.Context, receipt string, _ any) (bool, error) {
	return receipt == "good", nil
}

func eval(t *testing.T, v Verifier, query string) any {
	t.Helper()
	opts := append([]func(*rego.Rego){rego.Query(query)}, RegoOptions(v)...)
	rs, err := rego.New(opts...).Eval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		return nil
	}
	return rs[0].Expressions[0].Value
}

func TestBuiltins(t *testing.T) {
	cases := []struct {
		v     Verifier
		query string
		want  any
	}{
		{NoStore{}, `attest.attestation_verified("registry/app@sha256:abc")`, false},
		{nil, `attest.receipt_verified("good", {})`, false},
		{oneImage("registry/app@sha256:abc"), `attest.attestation_verified("registry/app@sha256:abc")`, true},
		{oneImage("registry/app@sha256:abc"), `attest.attestation_verified("registry/other:1")`, false},
		{oneImage(""), `attest.receipt_verified("good", {"kind": "Deployment"})`, true},
		{oneImage(""), `attest.receipt_verified("forged", {"kind": "Deployment"})`, false},
	}
	for _, c := range cases {
		if got := eval(t, c.v, c.query); got != c.want {
			t.Errorf("%s = %v, want %v", c.query, got, c.want)
		}
	}
}
