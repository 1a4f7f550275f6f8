package exemption

import (
	"strings"

	"github.com/continuums/attest/internal/manifest"
)

// The annotations of spec section 6.
const (
	AnnotationExempt     = "policy.attest.continuu.ms/exempt"
	AnnotationReason     = "policy.attest.continuu.ms/exempt-reason"
	AnnotationApprovedBy = "policy.attest.continuu.ms/exempt-approved-by"
	AnnotationExpires    = "policy.attest.continuu.ms/exempt-expires"
)

// FromAnnotations reads the exemptions a resource declares about itself: one
// per policy or rule named in the exempt annotation, or a single one for
// every policy when it says "true" (or "*"). "false", an empty value or no
// annotation gives none. Whether they are honoured is the Matcher's call.
func FromAnnotations(r *manifest.Resource) []Exemption {
	raw, ok := r.Annotations[AnnotationExempt]
	if !ok {
		return nil
	}
	raw = strings.TrimSpace(raw)
	var targets []string
	switch strings.ToLower(raw) {
	case "", "false":
		return nil
	case "true", "*":
		targets = []string{""}
	default:
		for _, t := range strings.Split(raw, ",") {
			if t = strings.TrimSpace(t); t != "" {
				targets = append(targets, t)
			}
		}
	}
	base := Exemption{
		ID:         r.Ref().String(),
		Source:     SourceAnnotation,
		Kind:       r.Kind,
		Namespace:  r.Namespace,
		Name:       r.Name,
		Reason:     strings.TrimSpace(r.Annotations[AnnotationReason]),
		ApprovedBy: strings.TrimSpace(r.Annotations[AnnotationApprovedBy]),
		Location:   r.Location,
	}
	base.Location.Field = `metadata.annotations["` + AnnotationExempt + `"]`
	if v := strings.TrimSpace(r.Annotations[AnnotationExpires]); v != "" {
		if t, err := ParseExpiry(v); err != nil {
			base.badExpiry = v
		} else {
			base.ExpiresAt = t
		}
	}
	out := make([]Exemption, 0, len(targets))
	for _, t := range targets {
		e := base
		if policy, _, isRule := strings.Cut(t, "/"); isRule {
			e.Policy, e.Rule = policy, t
		} else {
			e.Policy = t
		}
		out = append(out, e)
	}
	return out
}
