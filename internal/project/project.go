// Package project assembles what one run needs from a project directory:
// its configuration, every policy source, the compiled engine, the
// exemptions and the manifest loader. The CLI and the server both start
// here, so the same configuration always gives the same behaviour.
package project

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/continuums/attest/internal/attestation"
	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/gatekeeper"
	"github.com/continuums/attest/internal/governance"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/internal/store"
	"github.com/continuums/attest/library"
)

// Options say where the project is and what the command line added.
type Options struct {
	Dir         string   // project root (default ".")
	ConfigFile  string   // --config
	GlobalFile  string   // overrides the XDG location (tests)
	PolicyPaths []string // --policy, repeatable
	NoBuiltin   bool     // --no-builtin
	Scan        bool     // skip .git, vendor, node_modules and the policy folders
	Stdin       io.Reader
	Debug       io.Writer // where policy.debug output goes
	Verifier    attestation.Verifier
	Mode        string // "cli" (default) or "admission"
	Env         func(string) string
	// OnlyPolicy switches every other policy off (policy test --resource).
	OnlyPolicy string
	// Store is the approval store's URL (--store); empty: the config's
	// exemptions.store, else the default SQLite file if it exists.
	Store string
	// StoreExemptions, when set, supplies the store's exemptions instead
	// of opening the store (the server passes its cached provider).
	StoreExemptions exemption.Provider
	// NamespaceLookup, in admission mode, gives the Gatekeeper
	// constraints' namespaceSelector the cluster's Namespaces (attest
	// serve reads them with internal/kube); nil: only the Namespaces
	// among the inputs. The CLI's modes never read it.
	NamespaceLookup gatekeeper.NamespaceLookup
	// BundleCopy, when set, is read instead of policy_bundle_path: the
	// server passes the copy of the bundle it verified, so what is loaded
	// is what was verified (not the path read again, which may have
	// changed since, or holds files the signature does not cover).
	BundleCopy string
	// BundleURLLoaded says the caller loads policy_bundle_url itself (the
	// server), so no note says the command line does not.
	BundleURLLoaded bool
	// OnPanic is told of a panic in a policy evaluation (engine
	// WithPanicHandler); the server logs it.
	OnPanic func(v any, stack []byte)
}

// Project is everything loaded.
type Project struct {
	Dir      string
	Config   *config.Config
	Policies *policy.Set
	Engine   *engine.Engine
	Exempter *exemption.Matcher
	Loader   *manifest.Loader
	// Errors are bad config, policy or exemption files: reported with the
	// run's findings, and they make the exit code 2.
	Errors []finding.Error
	Notes  []finding.Note
	// Gatekeeper holds the ConstraintTemplates and Constraints found among
	// the policy paths (nil when there are none or they are disabled).
	Gatekeeper *gatekeeper.Set
	// exemptionList is what Exempter was built from: the exemptions
	// file's entries, then what the approval store held when the project
	// was opened (approved exemptions and overrides).
	exemptionList []exemption.Exemption
	// notesBeforeExemptions is how many Notes there were before the
	// exemption matcher's own were added.
	notesBeforeExemptions int

	Parallel        int
	Threshold       finding.Severity
	FailOnViolation bool
}

// Open loads the project. It returns an error only when nothing can be
// checked at all; problems in single files are collected in Errors.
func Open(ctx context.Context, o Options) (*Project, error) {
	if o.Dir == "" {
		o.Dir = "."
	}
	if o.Mode == "" {
		o.Mode = "cli"
	}
	p := &Project{Dir: o.Dir, FailOnViolation: true}

	cfg, err := LoadConfig(o)
	if err != nil {
		p.Errors = append(p.Errors, configErrors(err)...)
		cfg = config.Default()
	}
	p.Config = cfg
	p.applySettings()

	srcs, serrs, notes := sources(cfg, o)
	p.Errors = append(p.Errors, serrs...)
	p.Notes = append(p.Notes, notes...)
	// The spec's own governance example names teams and declares none:
	// then no one can approve a store request, and an annotation's
	// approver is not checked against any team. Said, not refused.
	if g := cfg.Governance; g != nil && len(g.Teams) == 0 && len(g.ExemptionApproval.RequiredTeams) > 0 {
		p.Notes = append(p.Notes, finding.Note{Location: finding.Location{File: filepath.Join(p.Dir, filepath.FromSlash(config.GovernanceFile))},
			Message: "governance.exemption_approval.required_teams names " + strings.Join(g.ExemptionApproval.RequiredTeams, ", ") +
				" but governance.teams declares no team: no one can approve a request in the approval store, and an annotation's approver is not checked against a team; declare the teams' members under governance.teams"})
	}
	set, perrs := policy.Load(ctx, srcs...)
	p.Errors = append(p.Errors, perrs...)
	p.Policies = set
	p.configurePolicies()
	gkOpts := p.loadGatekeeper(ctx, cfg, o, set)
	if o.OnlyPolicy != "" {
		for _, pol := range set.Policies {
			pol.Enabled = pol.Name == o.OnlyPolicy || pol.Package == o.OnlyPolicy
		}
	}

	eopts := []engine.Option{
		engine.WithContext(p.engineContext(o.Mode)),
		engine.WithVerifier(o.Verifier),
	}
	if d, err := time.ParseDuration(cfg.Policy.Timeout); err == nil && d > 0 {
		eopts = append(eopts, engine.WithTimeout(d))
	}
	if cfg.Policy.Debug && o.Debug != nil {
		eopts = append(eopts, engine.WithDebug(o.Debug))
	}
	if o.OnPanic != nil {
		eopts = append(eopts, engine.WithPanicHandler(o.OnPanic))
	}
	eopts = append(eopts, gkOpts...)
	eng, cerrs, err := engine.New(ctx, set, eopts...)
	p.Errors = append(p.Errors, cerrs...)
	if err != nil {
		return nil, fmt.Errorf("no policy could be compiled: %w", err)
	}
	p.Engine = eng

	p.notesBeforeExemptions = len(p.Notes)
	p.Exempter = p.exemptions(ctx, o)

	lopts := []manifest.Option{manifest.WithStdin(o.Stdin), manifest.WithSkipPaths(set.Roots...)}
	if o.Scan {
		lopts = append(lopts, manifest.WithSkipDirs(".git", "vendor", "node_modules", ".attest", "policies", "testdata"))
	}
	p.Loader = manifest.NewLoader(lopts...)
	return p, nil
}

// LoadConfig reads the configuration as Open does (global file, project
// files, --config), for callers that need it before opening: the server
// reads its bundle settings first.
func LoadConfig(o Options) (*config.Config, error) {
	if o.Dir == "" {
		o.Dir = "."
	}
	opts := []config.Option{config.WithProjectDir(o.Dir)}
	if o.GlobalFile != "" {
		opts = append(opts, config.WithGlobalFile(o.GlobalFile))
	}
	if o.ConfigFile != "" {
		opts = append(opts, config.WithFile(o.ConfigFile))
	}
	if o.Env != nil {
		opts = append(opts, config.WithEnv(o.Env))
	}
	return config.Load(opts...)
}

func configErrors(err error) []finding.Error {
	var le *config.LoadError
	if errors.As(err, &le) {
		return le.Findings()
	}
	return []finding.Error{{Message: err.Error()}}
}

func (p *Project) applySettings() {
	ps := p.Config.Policy
	p.Parallel = ps.Parallel
	if ps.FailOnViolation != nil {
		p.FailOnViolation = *ps.FailOnViolation
	}
	if ps.SeverityThreshold != "" {
		if s, err := finding.ParseSeverity(ps.SeverityThreshold); err == nil {
			p.Threshold = s
		}
	}
}

// PolicySources lists the policy sources of a project, for commands that
// only need the Rego (policy test-all). Config errors are left to the
// commands that report them.
func PolicySources(o Options) []policy.Option {
	if o.Dir == "" {
		o.Dir = "."
	}
	cfg, err := LoadConfig(o)
	if err != nil {
		cfg = config.Default()
	}
	srcs, _, _ := sources(cfg, o)
	return srcs
}

// sources lists every policy source: the built-in library, the project's
// policies/ folder, the bundle path from config, --policy paths, and
// inline custom policies.
func sources(cfg *config.Config, o Options) ([]policy.Option, []finding.Error, []finding.Note) {
	var opts []policy.Option
	var errs []finding.Error
	var notes []finding.Note
	if !o.NoBuiltin {
		opts = append(opts, policy.WithBuiltin(library.FS()))
	}
	policiesDir := filepath.Join(o.Dir, "policies")
	bp := BundlePath(cfg, o.Dir)
	// A verified copy of policies/ replaces the folder: walking it too
	// would load what the signature does not cover, and the rest twice.
	if isDir(policiesDir) && !(o.BundleCopy != "" && bp == policiesDir) {
		opts = append(opts, policy.WithPaths(policiesDir))
	}
	switch {
	case bp == "":
	case o.BundleCopy != "":
		opts = append(opts, policy.WithPaths(o.BundleCopy))
	case bp != policiesDir:
		if _, err := os.Stat(bp); err == nil {
			opts = append(opts, policy.WithPaths(bp))
		} else {
			errs = append(errs, finding.Error{Location: finding.Location{File: bp},
				Message: "policy_bundle_path: " + err.Error()})
		}
	}
	if cfg.Policy.PolicyBundleURL != "" && !o.BundleURLLoaded {
		notes = append(notes, finding.Note{Message: "policy_bundle_url " + cfg.Policy.PolicyBundleURL +
			" is loaded by `attest serve`; the command line uses local policies only"})
	}
	opts = append(opts, policy.WithPaths(o.PolicyPaths...))
	for _, cp := range cfg.Policy.CustomPolicies {
		opts = append(opts, policy.WithInline(inlineName(cp), cp.RegoCode))
	}
	return opts, errs, notes
}

// BundlePath is policy_bundle_path as a clean path (relative ones are the
// project dir's), or "" when none is configured.
func BundlePath(cfg *config.Config, dir string) string {
	bp := cfg.Policy.PolicyBundlePath
	if bp == "" {
		return ""
	}
	if !filepath.IsAbs(bp) {
		bp = filepath.Join(dir, bp)
	}
	return filepath.Clean(bp)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// configurePolicies applies the project's per-policy settings.
func (p *Project) configurePolicies() {
	cfg := p.Config
	if cfg.Policy.Enabled != nil && !*cfg.Policy.Enabled {
		for _, pol := range p.Policies.Policies {
			pol.Enabled = false
		}
		p.Notes = append(p.Notes, finding.Note{Message: "policy checks are disabled by configuration (policy.enabled: false)"})
		return
	}
	if cfg.Policy.OPAEnabled != nil && !*cfg.Policy.OPAEnabled {
		for _, pol := range p.Policies.Policies {
			pol.Enabled = false
		}
		p.Notes = append(p.Notes, finding.Note{Message: "Rego policies are disabled by configuration (policy.opa_enabled: false)"})
	}
	for _, cp := range cfg.Policy.CustomPolicies {
		st := policy.Settings{NamespacedOnly: strings.EqualFold(cp.Level, "Namespace")}
		if sev, err := finding.ParseSeverity(cp.Severity); err == nil {
			st.Severity = sev
		}
		// The inline policy is named by its entry, whatever its package.
		for _, pol := range p.Policies.Policies {
			for _, m := range pol.Modules {
				if m.Path == inlineName(cp) {
					pol.Rename(cp.Name)
				}
			}
		}
		p.Policies.Configure(cp.Name, st)
	}
	for _, pc := range cfg.Policies {
		st := policy.Settings{Enabled: pc.Enabled, Parameters: pc.Parameters}
		if pc.Enforcement != "" {
			if e, err := finding.ParseEnforcement(pc.Enforcement); err == nil {
				st.Enforcement = e
			}
		}
		if pc.Severity != "" {
			if s, err := finding.ParseSeverity(pc.Severity); err == nil {
				st.Severity = s
			}
		}
		if pc.Style != "" {
			if s, err := policy.ParseStyle(pc.Style); err == nil {
				st.Style = s
			}
		}
		name := pc.Name
		if pc.Package != "" {
			name = pc.Package
		}
		if !p.Policies.Configure(name, st) {
			p.Notes = append(p.Notes, finding.Note{Location: finding.Location{File: filepath.Join(p.Dir, ".attest", "policies.yaml")},
				Message: fmt.Sprintf("policy %q is configured but no loaded policy has that name", pc.Name)})
		}
	}
}

// engineContext is the static part of input.context.
func (p *Project) engineContext(mode string) map[string]any {
	cfg := p.Config
	ctx := map[string]any{"mode": mode}
	if len(cfg.Policy.ProductionNamespaces) > 0 {
		ns := make([]any, len(cfg.Policy.ProductionNamespaces))
		for i, n := range cfg.Policy.ProductionNamespaces {
			ns[i] = n
		}
		ctx["production_namespaces"] = ns
	}
	if pc, ok := cfg.PolicyConfig("image-security"); ok && (pc.Enabled == nil || *pc.Enabled) {
		if v, ok := pc.Parameters["require_attestation"].(bool); ok {
			ctx["require_attestation"] = v
		}
	}
	ctx["compliance"] = toMap(cfg.Compliance)
	ctx["attestation_store"] = cfg.Policy.AttestationStore != ""
	return ctx
}

func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return map[string]any{}
	}
	return m
}

func (p *Project) exemptions(ctx context.Context, o Options) *exemption.Matcher {
	cfg := p.Config
	file := cfg.Exemptions.File
	if file == "" {
		file = filepath.Join(".attest", "exemptions.yaml")
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(p.Dir, file)
	}
	list, errs := exemption.LoadFile(file)
	p.Errors = append(p.Errors, errs...)
	opts := []exemption.Option{
		exemption.WithExemptions(list),
		exemption.WithAnnotations(cfg.Exemptions.Annotations != "ignore"),
	}
	if fromStore, err := p.storeExemptions(ctx, o); err != nil {
		p.Errors = append(p.Errors, finding.Error{Message: "approval store: " + err.Error()})
	} else {
		opts = append(opts, exemption.WithExemptions(fromStore))
		list = append(list, fromStore...)
	}
	p.exemptionList = list
	if g := cfg.Governance; g != nil && len(g.Teams) > 0 {
		opts = append(opts, exemption.WithTeams(g.Teams, g.ExemptionApproval.RequiredTeams))
	}
	if p.Policies != nil {
		byNameOrPackage := map[string]string{}
		for _, pol := range p.Policies.Policies {
			byNameOrPackage[pol.Package] = pol.Name
		}
		for _, pol := range p.Policies.Policies {
			byNameOrPackage[pol.Name] = pol.Name // a name wins over another policy's package
		}
		opts = append(opts, exemption.WithPolicies(byNameOrPackage))
	}
	m := exemption.NewMatcher(opts...)
	// The matcher's notes come last. A copy rebuilt with the store's
	// exemptions (WithStoreExemptions) replaces them rather than adding to
	// them, and the three-index slice makes it never write into the
	// original project's notes.
	base := p.Notes[:p.notesBeforeExemptions:p.notesBeforeExemptions]
	p.Notes = append(base, m.UnknownPolicies()...)
	return m
}

// inlineName names an inline policy's module after the config entry that
// holds it, so errors in its Rego lead back to the file.
func inlineName(cp config.CustomPolicy) string {
	if cp.Source != "" {
		return cp.Source + " custom_policies/" + cp.Name
	}
	return "custom_policies/" + cp.Name
}

// storeExemptions reads the approved exemptions of the approval store. The
// store is opened only when one is configured or the default file already
// exists: checking a fresh repository must not create a database.
func (p *Project) storeExemptions(ctx context.Context, o Options) ([]exemption.Exemption, error) {
	if o.StoreExemptions != nil {
		return o.StoreExemptions.Exemptions(ctx)
	}
	url := o.Store
	if url == "" {
		url = p.Config.Exemptions.Store
	}
	if url == "" {
		getenv := o.Env
		if getenv == nil {
			getenv = os.Getenv
		}
		path, err := store.DefaultPath(getenv)
		if err != nil {
			return nil, nil
		}
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
		url = "sqlite://" + path
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return governance.New(st).Exemptions(ctx)
}
