package server

import (
	"strings"
	"testing"
)

// DecodeReview never panics, and what it accepts has what the handler
// relies on.
func FuzzDecodeReview(f *testing.F) {
	f.Add(review("u1", "CREATE", privilegedPod, ""))
	f.Add(review("u2", "DELETE", "", compliantDeployment))
	f.Add(review("u3", "UPDATE", compliantDeployment, privilegedPod))
	f.Add([]byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":null}`))
	f.Add([]byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"x","operation":"CREATE","object":[]}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rv, err := DecodeReview(data)
		if err != nil {
			if rv != nil {
				t.Fatal("a review and an error")
			}
			return
		}
		if rv.Request == nil || rv.Request.UID == "" || !strings.HasPrefix(rv.APIVersion, "admission.k8s.io/") {
			t.Fatalf("accepted a review the handler cannot use: %s", data)
		}
	})
}
