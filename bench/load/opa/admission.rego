# The bench/policies rules (conftest style: package main, the manifest is
# the input) asked by OPA's data API about an AdmissionReview: the object
# under review becomes their input with `with`, as attest's engine does for
# conftest packages. POST /v1/data/attest/admission/response with
# {"input": <AdmissionReview>} returns an AdmissionReview-shaped answer.
package attest.admission

deny := d if {
	d := data.main.deny with input as input.request.object
}

warn := w if {
	w := data.main.warn with input as input.request.object
}

default allowed := false

allowed if count(deny) == 0

status := {} if allowed

status := {"code": 403, "reason": "Forbidden", "message": concat("; ", sort(deny))} if not allowed

response := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"response": {
		"uid": input.request.uid,
		"allowed": allowed,
		"warnings": sort(warn),
		"status": status,
	},
}
