package config

import "time"

// Config is the effective configuration: defaults, then the global file,
// then the project's files, then --config, merged key by key.
type Config struct {
	Policy     PolicySettings    `json:"policy"`
	Policies   []PolicyConfig    `json:"policies,omitempty"`
	Compliance Compliance        `json:"compliance"`
	Exemptions ExemptionSettings `json:"exemptions"`
	// Server is `attest serve`'s own settings (who may use the exemption
	// endpoints).
	Server ServerSettings `json:"server,omitzero"`
	// Governance is .attest/governance.yaml; nil when the project has none.
	Governance *Governance `json:"governance,omitempty"`
	// Sources are the files that were loaded, in the order they were
	// applied (later ones win).
	Sources []string `json:"sources,omitempty"`

	// origins maps every key that a file set to "file:line".
	origins map[string]string
}

// PolicySettings is the `policy:` section (spec section 4, plus the keys
// attest adds). Booleans that the spec writes are pointers so a layer that
// does not mention them leaves the value of the layer below; Default()
// fills every one.
type PolicySettings struct {
	Enabled           *bool `yaml:"enabled" json:"enabled,omitempty"`
	OPAEnabled        *bool `yaml:"opa_enabled" json:"opa_enabled,omitempty"`
	GatekeeperEnabled *bool `yaml:"gatekeeper_enabled" json:"gatekeeper_enabled,omitempty"`
	FailOnViolation   *bool `yaml:"fail_on_violation" json:"fail_on_violation,omitempty"`
	// PolicyBundleURL is where `attest serve` fetches a bundle from.
	PolicyBundleURL string `yaml:"policy_bundle_url" check:"url" json:"policy_bundle_url,omitempty"`
	// PolicyBundlePath is a folder of Rego files, relative to the project.
	PolicyBundlePath string         `yaml:"policy_bundle_path" check:"path" json:"policy_bundle_path,omitempty"`
	CustomPolicies   []CustomPolicy `yaml:"custom_policies" json:"custom_policies,omitempty"`
	// Debug shows which rules fired and why (spec section 16).
	Debug bool `yaml:"debug" json:"debug"`
	// Timeout bounds one resource's evaluation, as time.ParseDuration
	// reads it (normalised: "2s", "1m30s"; d and w units are accepted in
	// the file and rewritten).
	Timeout string `yaml:"timeout" check:"timeout" json:"timeout"`
	// SeverityThreshold drops findings below it; empty keeps everything.
	// Normalised to lower case (info, low, medium, high, critical).
	SeverityThreshold string `yaml:"severity_threshold" check:"severity" json:"severity_threshold,omitempty"`
	// Parallel is the number of workers; 0 means GOMAXPROCS.
	Parallel int `yaml:"parallel" check:"nonneg" json:"parallel"`
	// ProductionNamespaces decide what counts as production.
	ProductionNamespaces []string `yaml:"production_namespaces" check:"namespace" json:"production_namespaces"`
	// AttestationStore is where attestations are verified; empty: none.
	AttestationStore   string             `yaml:"attestation_store" check:"store" json:"attestation_store,omitempty"`
	BundleVerification BundleVerification `yaml:"bundle_verification" json:"bundle_verification,omitzero"`
}

// CustomPolicy is an inline policy of custom_policies.
type CustomPolicy struct {
	Name        string `yaml:"name" required:"true" check:"name" json:"name"`
	Description string `yaml:"description" json:"description,omitempty"`
	// Level is "Cluster" (every resource) or "Namespace" (namespaced
	// resources only); normalised to that spelling. Empty means Cluster.
	Level string `yaml:"level" check:"level" json:"level,omitempty"`
	// Severity is normalised to lower case; empty leaves the rules' own.
	Severity string `yaml:"severity" check:"severity" json:"severity,omitempty"`
	RegoCode string `yaml:"rego_code" required:"true" check:"nonempty" json:"rego_code"`
	// Source is "file:line" where the entry is.
	Source string `yaml:"-" json:"source,omitempty"`
}

// BundleVerification lists the keys that may sign policy bundles.
type BundleVerification struct {
	PublicKeys []PublicKey `yaml:"public_keys" json:"public_keys,omitempty"`
}

// PublicKey is one bundle signing key: a PEM file (Path, relative to the
// file that names it is NOT assumed: relative to the project) or the PEM
// text (Key), exactly one of them.
type PublicKey struct {
	ID   string `yaml:"id" required:"true" check:"name" json:"id"`
	Path string `yaml:"path" check:"path" json:"path,omitempty"`
	Key  string `yaml:"key" json:"key,omitempty"`
	// Algorithm is a JWS algorithm as OPA's bundle signing names it
	// (RS256, PS256, ES256, EdDSA, ...); default RS256.
	Algorithm string `yaml:"algorithm" check:"algorithm" json:"algorithm,omitempty"`
}

// PolicyConfig is one entry of the project's `policies:` list.
type PolicyConfig struct {
	Name string `yaml:"name" required:"true" check:"name" json:"name"`
	// Enabled is nil when not written: the policy runs.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// Enforcement is strict, warn or dryrun (normalised); empty: strict.
	Enforcement string `yaml:"enforcement" check:"enforcement" json:"enforcement,omitempty"`
	// Parameters reach the policy as input.parameters. Layers merge them
	// key by key at the top level.
	Parameters map[string]any `yaml:"parameters" json:"parameters,omitempty"`
	// Severity overrides the rules' severities (normalised to lower case).
	Severity string `yaml:"severity" check:"severity" json:"severity,omitempty"`
	// Style says how the package wants its input: attest, conftest or
	// gatekeeper (normalised to lower case); empty: detected.
	Style string `yaml:"style" check:"style" json:"style,omitempty"`
	// Package is the Rego package the name refers to ("company.security");
	// empty: the name is the package with dots written as dashes.
	Package string `yaml:"package" check:"package" json:"package,omitempty"`
	// Source is "file:line" of the entry in the last file that set it.
	Source string `yaml:"-" json:"source,omitempty"`
}

// ExemptionSettings is the `exemptions:` section of the policies files
// (settings only; the exemption list is .attest/exemptions.yaml).
type ExemptionSettings struct {
	// Annotations is "honour" (default) or "ignore" ("honor" is read as
	// "honour").
	Annotations string `yaml:"annotations" check:"annotations" json:"annotations"`
	// File is the exemption list, relative to the project directory.
	File string `yaml:"file" check:"path" json:"file"`
	// Store is the approval store's URL (sqlite:///path or postgres://...);
	// empty means the default SQLite file, used only when it exists.
	Store string `yaml:"store" check:"store" json:"store,omitempty"`
}

// ServerSettings is the `server:` section: settings of `attest serve`.
type ServerSettings struct {
	Auth ServerAuth `yaml:"auth" json:"auth,omitzero"`
}

// ServerAuth says who may call the server's exemption and audit endpoints.
// Tokens are stored as SHA-256 hashes so that the configuration (often in
// Git, or a ConfigMap) never holds a usable secret.
type ServerAuth struct {
	Tokens []AuthToken `yaml:"tokens" json:"tokens,omitempty"`
	// ClientCA is a PEM file of CA certificates; a client certificate
	// issued by one of them authenticates its e-mail SAN (else its CN).
	// Relative to the project directory.
	ClientCA string `yaml:"client_ca" check:"path" json:"client_ca,omitempty"`
}

// AuthToken is one bearer token: the identity it authenticates and the
// SHA-256 of the token (64 hex digits, `attest serve hash-token`).
type AuthToken struct {
	Identity string `yaml:"identity" required:"true" check:"email" json:"identity"`
	SHA256   string `yaml:"sha256" required:"true" check:"sha256" json:"sha256"`
}

// Compliance is spec section 8. Every field is as written: unset booleans
// stay nil and unset strings empty, so input.context.compliance holds only
// what the user wrote and the Rego library applies its own defaults.
type Compliance struct {
	SOC2  SOC2  `yaml:"soc2" json:"soc2,omitzero"`
	GDPR  GDPR  `yaml:"gdpr" json:"gdpr,omitzero"`
	HIPAA HIPAA `yaml:"hipaa" json:"hipaa,omitzero"`
}

type SOC2 struct {
	Enabled  *bool         `yaml:"enabled" json:"enabled,omitempty"`
	Controls []SOC2Control `yaml:"controls" json:"controls,omitempty"`
}

type SOC2Control struct {
	Control     string `yaml:"control" required:"true" check:"nonempty" json:"control"`
	Policy      string `yaml:"policy" required:"true" check:"name" json:"policy"`
	Description string `yaml:"description" json:"description,omitempty"`
}

type GDPR struct {
	Enabled        *bool              `yaml:"enabled" json:"enabled,omitempty"`
	DataProtection GDPRDataProtection `yaml:"data_protection" json:"data_protection,omitzero"`
}

type GDPRDataProtection struct {
	RequireAnnotations  *bool    `yaml:"require_annotations" json:"require_annotations,omitempty"`
	RequiredAnnotations []string `yaml:"required_annotations" check:"annotation" json:"required_annotations,omitempty"`
	PrivacyByDesign     *bool    `yaml:"privacy_by_design" json:"privacy_by_design,omitempty"`
}

type HIPAA struct {
	Enabled            *bool                   `yaml:"enabled" json:"enabled,omitempty"`
	Encryption         HIPAAEncryption         `yaml:"encryption" json:"encryption,omitzero"`
	AccessControls     HIPAAAccessControls     `yaml:"access_controls" json:"access_controls,omitzero"`
	AuditLogging       string                  `yaml:"audit_logging" check:"required_optional" json:"audit_logging,omitempty"`
	DataClassification HIPAADataClassification `yaml:"data_classification" json:"data_classification,omitzero"`
}

// HIPAAEncryption: "required" or "optional" each.
type HIPAAEncryption struct {
	AtRest    string `yaml:"at_rest" check:"required_optional" json:"at_rest,omitempty"`
	InTransit string `yaml:"in_transit" check:"required_optional" json:"in_transit,omitempty"`
}

// HIPAAAccessControls. AuditLogging may be written here or one level up
// (the spec's indentation is ambiguous); Load copies hipaa.audit_logging
// here when this one is not set, which is where the Rego library reads it.
type HIPAAAccessControls struct {
	MinimumNecessary *bool  `yaml:"minimum_necessary" json:"minimum_necessary,omitempty"`
	AuditLogging     string `yaml:"audit_logging" check:"required_optional" json:"audit_logging,omitempty"`
}

// HIPAADataClassification: PHIDetection is "enabled" or "disabled".
type HIPAADataClassification struct {
	PHIDetection string `yaml:"phi_detection" check:"enabled_disabled" json:"phi_detection,omitempty"`
}

// Governance is .attest/governance.yaml (spec section 11).
type Governance struct {
	PolicyApproval    PolicyApproval    `yaml:"policy_approval" json:"policy_approval"`
	ExemptionApproval ExemptionApproval `yaml:"exemption_approval" json:"exemption_approval"`
	EmergencyOverride EmergencyOverride `yaml:"emergency_override" json:"emergency_override"`
	// Teams maps a team name to its members' e-mail addresses.
	Teams map[string][]string `yaml:"teams" check:"email" json:"teams,omitempty"`
	// File is the governance file that was loaded.
	File string `yaml:"-" json:"file,omitempty"`
}

type PolicyApproval struct {
	RequiredReviewers int      `yaml:"required_reviewers" check:"nonneg" json:"required_reviewers"`
	RequiredTeams     []string `yaml:"required_teams" check:"name" json:"required_teams,omitempty"`
	AutoMerge         bool     `yaml:"auto_merge" json:"auto_merge"`
}

type ExemptionApproval struct {
	RequiredApprovers int      `yaml:"required_approvers" check:"approvals" json:"required_approvers"`
	RequiredTeams     []string `yaml:"required_teams" check:"name" json:"required_teams,omitempty"`
	// MaxDuration is as written ("30d"); empty means no limit.
	MaxDuration string `yaml:"max_duration" check:"duration" json:"max_duration,omitempty"`
	// MaxDurationValue is MaxDuration parsed; 0 means no limit.
	MaxDurationValue time.Duration `yaml:"-" json:"-"`
}

type EmergencyOverride struct {
	Enabled           bool `yaml:"enabled" json:"enabled"`
	RequiredApprovers int  `yaml:"required_approvers" check:"approvals" json:"required_approvers"`
	// AuditTrail is "required" (default) or "optional".
	AuditTrail string `yaml:"audit_trail" check:"required_optional" json:"audit_trail"`
}

// KeyValue is one line of `attest config list`.
type KeyValue struct {
	Key    string
	Value  string
	Source string // "file:line", or "default"
}

// fileSchema is the shape of every policies file (global, project,
// --config): the global file usually holds only `policy:`.
type fileSchema struct {
	Policy     PolicySettings    `yaml:"policy"`
	Policies   []PolicyConfig    `yaml:"policies"`
	Compliance Compliance        `yaml:"compliance"`
	Exemptions ExemptionSettings `yaml:"exemptions"`
	Server     ServerSettings    `yaml:"server"`
}

// governanceSchema is the shape of .attest/governance.yaml.
type governanceSchema struct {
	Governance *governanceYAML `yaml:"governance" required:"true"`
}

// governanceYAML also accepts emergency_override inside
// exemption_approval, where one reading of the spec puts it.
type governanceYAML struct {
	PolicyApproval    PolicyApproval        `yaml:"policy_approval"`
	ExemptionApproval exemptionApprovalYAML `yaml:"exemption_approval"`
	EmergencyOverride EmergencyOverride     `yaml:"emergency_override"`
	Teams             map[string][]string   `yaml:"teams" check:"email"`
}

type exemptionApprovalYAML struct {
	ExemptionApproval `yaml:",inline"`
	EmergencyOverride *EmergencyOverride `yaml:"emergency_override"`
}

// Default is the configuration with no file at all.
func Default() *Config {
	t := func() *bool { b := true; return &b }
	return &Config{
		Policy: PolicySettings{
			Enabled:              t(),
			OPAEnabled:           t(),
			GatekeeperEnabled:    t(),
			FailOnViolation:      t(),
			Timeout:              "5s",
			ProductionNamespaces: []string{"production", "prod"},
		},
		Exemptions: ExemptionSettings{Annotations: "honour", File: DefaultExemptionsFile},
		origins:    map[string]string{},
	}
}

// defaultGovernance is what a governance file starts from: keys it does
// not write keep these.
func defaultGovernance() governanceYAML {
	return governanceYAML{
		PolicyApproval:    PolicyApproval{RequiredReviewers: 1},
		ExemptionApproval: exemptionApprovalYAML{ExemptionApproval: ExemptionApproval{RequiredApprovers: 1}},
		EmergencyOverride: EmergencyOverride{RequiredApprovers: 1, AuditTrail: "required"},
	}
}

// DefaultExemptionsFile is where the exemption list is, from the project.
const DefaultExemptionsFile = ".attest/exemptions.yaml"

// BoolValue is *p, or def when p is nil.
func BoolValue(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
