package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/continuums/attest/internal/finding"
)

var (
	// a policy, team or key name: letters, digits, and . _ - / :
	nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:-]*$`)
	// a Rego package path
	packageRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	// a Kubernetes namespace (RFC 1123 label)
	namespaceRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// a Kubernetes annotation key: optional DNS prefix, "/", name
	annotationRe = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	emailRe      = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
	sha256Re     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// jwsAlgorithms are the algorithms OPA's bundle signing verifies.
var jwsAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}

// checkScalar validates (and normalises) a string value by its `check`
// tag. It reports the problem at n and returns false when s is not valid.
func (d *decoder) checkScalar(n *yaml.Node, path, check, s string) (string, bool) {
	bad := func(format string, args ...any) (string, bool) {
		d.errorf(n, "%s: "+format, append([]any{label(path)}, args...)...)
		return "", false
	}
	switch check {
	case "":
		return s, true
	case "nonempty":
		if strings.TrimSpace(s) == "" {
			return bad("must not be empty")
		}
	case "name":
		if !nameRe.MatchString(s) {
			return bad("%q is not a valid name (letters, digits, '.', '_', '-', '/', ':'; no spaces)", s)
		}
	case "package":
		if !packageRe.MatchString(s) {
			return bad("%q is not a Rego package path (for example company.security)", s)
		}
	case "namespace":
		if len(s) > 63 || !namespaceRe.MatchString(s) {
			return bad("%q is not a valid Kubernetes namespace name", s)
		}
	case "annotation":
		name := s
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			name = s[i+1:]
			if i > 253 {
				return bad("%q: annotation prefix longer than 253 characters", s)
			}
		}
		if len(name) > 63 || !annotationRe.MatchString(s) {
			return bad("%q is not a valid annotation key", s)
		}
	case "email":
		if !emailRe.MatchString(s) {
			return bad("%q is not an e-mail address", s)
		}
	case "path":
		if strings.TrimSpace(s) == "" {
			return bad("must not be empty (leave the key out instead)")
		}
		if strings.ContainsFunc(s, unicode.IsControl) {
			return bad("%q contains control characters", s)
		}
	case "url":
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || (u.Host == "" && u.Scheme != "file") {
			return bad("%q is not an absolute URL (for example https://policies.example.com/bundle.tar.gz)", s)
		}
	case "store":
		if strings.TrimSpace(s) == "" || strings.ContainsFunc(s, unicode.IsSpace) {
			return bad("%q is not a store URL (for example sqlite:///var/lib/attest/attest.db or https://attest.example.com)", s)
		}
		if _, err := url.Parse(s); err != nil {
			return bad("%q is not a store URL: %v", s, err)
		}
	case "sha256":
		h := strings.ToLower(strings.TrimSpace(s))
		if !sha256Re.MatchString(h) {
			return bad("%q is not a SHA-256 hash (64 hex digits, from `attest serve hash-token`); never put the token itself here", s)
		}
		return h, true
	case "severity":
		sev, err := finding.ParseSeverity(s)
		if err != nil {
			return bad("unknown severity %q (allowed: info, low, medium, high, critical; any case)", s)
		}
		return sev.String(), true
	case "enforcement":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "strict", "warn", "dryrun":
			return strings.ToLower(strings.TrimSpace(s)), true
		}
		e, err := finding.ParseEnforcement(s)
		if err != nil || s == "" {
			return bad("unknown enforcement %q (allowed: strict, warn, dryrun)", s)
		}
		return string(e), true
	case "style":
		switch v := strings.ToLower(strings.TrimSpace(s)); v {
		case "attest", "conftest", "gatekeeper":
			return v, true
		}
		return bad("unknown style %q (allowed: attest, conftest, gatekeeper)", s)
	case "level":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "cluster":
			return "Cluster", true
		case "namespace", "namespaced":
			return "Namespace", true
		}
		return bad("unknown level %q (allowed: Cluster, Namespace)", s)
	case "annotations":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "honour", "honor":
			return "honour", true
		case "ignore":
			return "ignore", true
		}
		return bad("unknown value %q (allowed: honour, ignore)", s)
	case "required_optional":
		switch v := strings.ToLower(strings.TrimSpace(s)); v {
		case "required", "optional":
			return v, true
		}
		return bad("unknown value %q (allowed: required, optional)", s)
	case "enabled_disabled":
		switch v := strings.ToLower(strings.TrimSpace(s)); v {
		case "enabled", "disabled":
			return v, true
		}
		return bad("unknown value %q (allowed: enabled, disabled)", s)
	case "algorithm":
		for _, a := range jwsAlgorithms {
			if strings.EqualFold(a, s) {
				return a, true
			}
		}
		return bad("unknown algorithm %q (allowed: %s)", s, strings.Join(jwsAlgorithms, ", "))
	case "duration":
		dur, err := ParseDuration(s)
		if err != nil {
			return bad("%v", err)
		}
		if dur <= 0 {
			return bad("must be longer than zero, got %q", s)
		}
	case "timeout":
		dur, err := ParseDuration(s)
		if err != nil {
			return bad("%v", err)
		}
		if dur <= 0 {
			return bad("must be longer than zero, got %q", s)
		}
		if _, err := time.ParseDuration(s); err != nil {
			return dur.String(), true // "1d" -> "24h0m0s", which time.ParseDuration reads
		}
	default:
		panic(fmt.Sprintf("config: unknown check %q on %s", check, path))
	}
	return s, true
}

// whyApprovals is why an approval count of 0 is refused rather than read
// as "no approval needed": an exemption nobody but its requester agreed to
// is not governed at all.
const whyApprovals = "an exemption always needs an approval by someone other than its requester"

// checkInt is the problem with an integer under its field's check tag
// ("nonneg", "approvals"), or "": the file's decoder and `config set`
// both ask it.
func checkInt(check string, i int64) string {
	switch {
	case strings.Contains(check, "nonneg") && i < 0:
		return fmt.Sprintf("must be 0 or more, got %d", i)
	case strings.Contains(check, "approvals") && i < 1:
		return fmt.Sprintf("must be 1 or more, got %d (%s)", i, whyApprovals)
	}
	return ""
}
