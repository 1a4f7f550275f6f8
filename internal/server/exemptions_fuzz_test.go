package server

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeExemptionRequest: any body either decodes to a request that
// encodes and decodes back to itself, or is refused with an error; never
// a panic.
func FuzzDecodeExemptionRequest(f *testing.F) {
	for _, s := range []string{privRequest, `{}`, `{"policy":1}`, `{"approvers":null}`, `{"requested_by":"x"}`, `[]`, `null`, `{} {}`, "", `{"policy":"a\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeExemptionRequest(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeExemptionRequest(b)
		if err != nil || !reflect.DeepEqual(normalizeReq(again), normalizeReq(r)) {
			t.Fatalf("round trip: %+v -> %s -> %+v (%v)", r, b, again, err)
		}
	})
}

func normalizeReq(r ExemptionRequest) ExemptionRequest {
	if len(r.Approvers) == 0 {
		r.Approvers = nil
	}
	return r
}

// FuzzDecodeDecision: the same for decision bodies, where empty is fine.
func FuzzDecodeDecision(f *testing.F) {
	for _, s := range []string{"", `{}`, `{"comment":"ok"}`, `{"approver":"a"}`, `{"comment":null}`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeDecision(data)
		if err != nil {
			return
		}
		b, _ := json.Marshal(d)
		if again, err := DecodeDecision(b); err != nil || again != d {
			t.Fatalf("round trip: %+v -> %s -> %+v (%v)", d, b, again, err)
		}
	})
}
