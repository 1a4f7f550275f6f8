package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/governance"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/internal/project"
	"github.com/continuums/attest/internal/report"
	"github.com/continuums/attest/internal/store"
)

// storeFlags select the project (for governance.yaml and the policy names)
// and the approval store.
type storeFlags struct {
	project string
	config  string
	store   string
}

func (f *storeFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.project, "project", ".", "project directory (holds .attest/governance.yaml)")
	fl.StringVar(&f.config, "config", "", "extra configuration FILE layered over the global and project files")
	fl.StringVar(&f.store, "store", "", "approval store URL: sqlite:///path/attest.db or postgres://user@host/db (default: exemptions.store, else $XDG_DATA_HOME/attest/attest.db)")
}

func (f *storeFlags) projectOptions() project.Options {
	return project.Options{Dir: f.project, ConfigFile: f.config, Env: os.Getenv}
}

// service opens the store and the workflow on it. withPolicies loads the
// project's policies so requests for unknown ones are refused.
func (f *storeFlags) service(ctx context.Context, withPolicies bool) (*governance.Service, *config.Config, error) {
	cfgOpts := []config.Option{config.WithProjectDir(f.project), config.WithEnv(os.Getenv)}
	if f.config != "" {
		cfgOpts = append(cfgOpts, config.WithFile(f.config))
	}
	cfg, err := config.Load(cfgOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: %w", err)
	}
	url := f.store
	if url == "" {
		url = cfg.Exemptions.Store
	}
	if url == "" {
		if url, err = store.DefaultURL(os.Getenv); err != nil {
			return nil, nil, err
		}
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	opts := []governance.Option{governance.WithGovernance(cfg.Governance)}
	if withPolicies {
		set, _ := policy.Load(ctx, project.PolicySources(f.projectOptions())...)
		known := map[string]bool{}
		for _, p := range set.Policies {
			known[p.Name], known[p.Package] = true, true
		}
		opts = append(opts, governance.WithPolicies(func(n string) bool { return known[n] }))
	}
	return governance.New(st, opts...), cfg, nil
}

// requester is --requested-by, else git's user.email, else the OS user.
func requester(ctx context.Context, flag, dir string) string {
	if flag != "" {
		return flag
	}
	cmd := exec.CommandContext(ctx, "git", "config", "user.email")
	cmd.Dir = dir
	if out, err := cmd.Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		return strings.TrimSpace(string(out))
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

type requestFlags struct {
	storeFlags
	policy, resource, reason, duration, rule, requestedBy string
	approvers                                             []string
}

func (f *requestFlags) register(c *cobra.Command, defaultDuration string) {
	f.storeFlags.register(c)
	fl := c.Flags()
	fl.StringVar(&f.policy, "policy", "", "policy NAME to exempt from (attest-security)")
	fl.StringVar(&f.rule, "rule", "", "only this rule of the policy (privileged-container)")
	fl.StringVar(&f.resource, "resource", "", "Kind/namespace/name, or Kind/name for a cluster-scoped kind")
	fl.StringVar(&f.reason, "reason", "", "why the exemption is needed")
	fl.StringVar(&f.duration, "duration", defaultDuration, "how long it lasts from now: 30d, 2w, 12h (at most governance max_duration)")
	fl.StringArrayVar(&f.approvers, "approver", nil, "who is asked to approve: a person (alice@company.com) or a team (security-team, security-team@company.com); repeatable")
	fl.StringVar(&f.requestedBy, "requested-by", "", "who asks (default: git config user.email, else the OS user); recorded as self-declared")
}

func (f *requestFlags) file(cmd *cobra.Command, s Streams, emergency bool) error {
	ctx := cmd.Context()
	svc, _, err := f.service(ctx, true)
	if err != nil {
		return err
	}
	defer svc.Store().Close()
	r := governance.Request{
		Policy: f.policy, Rule: f.rule, Resource: f.resource, Reason: f.reason, Duration: f.duration, Approvers: f.approvers,
		By: governance.Actor{Name: requester(ctx, f.requestedBy, f.project), Identity: governance.IdentitySelfDeclared},
	}
	file := svc.Request
	if emergency {
		file = svc.Override
	}
	e, err := file(ctx, r)
	if err != nil {
		return usageError{err}
	}
	n, teams := svc.Needed(e)
	fmt.Fprintln(s.Out, e.ID)
	what := "pending"
	if emergency {
		what = "EMERGENCY override pending"
	}
	msg := fmt.Sprintf("%s: %s, needs %d approval(s)", e.ID, what, n)
	if len(teams) > 0 {
		msg += " including one from each of " + strings.Join(teams, ", ")
	}
	fmt.Fprintf(s.Err, "%s from %s; expires %s\n", msg, strings.Join(e.Approvers, ", "), e.ExpiresAt.Format(time.RFC3339))
	return nil
}

// newExemptCmd is `attest policy exempt` with approve, reject and revoke.
func newExemptCmd(s Streams) *cobra.Command {
	var f requestFlags
	c := &cobra.Command{
		Use:   "exempt --policy P --resource Kind/namespace/name --reason R --duration 30d --approver A",
		Short: "Request an exemption from a policy (approve, reject, revoke it with the subcommands)",
		Long: `File a pending exemption request in the approval store and print its id.
It applies to attest policy check once enough approvals from the teams of
.attest/governance.yaml are in (attest policy exempt approve ID ...).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.file(cmd, s, false) },
	}
	f.register(c, "")
	c.AddCommand(
		newDecideCmd(s, "approve", "Approve a pending exemption request", func(svc *governance.Service) decideFunc { return svc.Approve }),
		newDecideCmd(s, "reject", "Reject a pending exemption request", func(svc *governance.Service) decideFunc { return svc.Reject }),
		newDecideCmd(s, "revoke", "Revoke a pending or approved exemption (it stops applying at once)", func(svc *governance.Service) decideFunc { return svc.Revoke }),
	)
	return c
}

type decideFunc func(ctx context.Context, id string, by governance.Actor, comment string) (store.Exemption, error)

func newDecideCmd(s Streams, verb, short string, pick func(*governance.Service) decideFunc) *cobra.Command {
	var f storeFlags
	var approver, comment string
	c := &cobra.Command{
		Use:   verb + " ID --approver A [--comment C]",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if approver == "" {
				return usageError{errors.New("--approver is required")}
			}
			svc, _, err := f.service(ctx, false)
			if err != nil {
				return err
			}
			defer svc.Store().Close()
			e, err := pick(svc)(ctx, args[0], governance.Actor{Name: approver, Identity: governance.IdentitySelfDeclared}, comment)
			var exp *governance.ExpiredError
			if errors.As(err, &exp) {
				fmt.Fprintln(s.Err, "attest:", err)
				return exitError{decision.ExitErrors}
			}
			if err != nil {
				return err
			}
			line := fmt.Sprintf("%s: %s", report.Printable(e.ID), e.Status)
			if e.Status == store.StatusPending {
				n, _ := svc.Needed(e)
				line += fmt.Sprintf(" (%d of %d approvals)", len(e.Approvals), n)
			}
			if e.Emergency {
				line += " [EMERGENCY]"
			}
			fmt.Fprintln(s.Out, line)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&approver, "approver", "", "who decides (recorded as self-declared on the command line)")
	c.Flags().StringVar(&comment, "comment", "", "why")
	return c
}

// newOverrideCmd is `attest policy override`: an emergency exemption.
func newOverrideCmd(s Streams) *cobra.Command {
	var f requestFlags
	c := &cobra.Command{
		Use:   "override --policy P --resource Kind/namespace/name --reason R --duration 4h --approver A",
		Short: "Request an emergency (break-glass) exemption: short, flagged in every report, with its own approvals",
		Long: `File an emergency override: allowed only when governance.emergency_override.enabled,
at most 24h (or max_duration if shorter), needing emergency_override.required_approvers
approvals (attest policy exempt approve ID ...). Reports flag it as EMERGENCY.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.file(cmd, s, true) },
	}
	f.register(c, "4h")
	return c
}

// newExemptionsCmd is `attest policy exemptions list|export`.
func newExemptionsCmd(s Streams) *cobra.Command {
	c := &cobra.Command{Use: "exemptions", Short: "List or export the exemptions of the approval store"}
	var lf storeFlags
	var status, format string
	list := &cobra.Command{
		Use:   "list [--status pending|approved|rejected|expired|revoked] [--format text|json]",
		Short: "List exemptions and requests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var st store.Status
			if status != "" {
				var err error
				if st, err = store.ParseStatus(status); err != nil {
					return usageError{err}
				}
			}
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("unknown format %q (want text or json)", format)}
			}
			svc, _, err := lf.service(ctx, false)
			if err != nil {
				return err
			}
			defer svc.Store().Close()
			items, err := svc.List(ctx, st)
			if err != nil {
				return err
			}
			if format == "json" {
				if items == nil {
					items = []store.Exemption{}
				}
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(items)
			}
			if len(items) == 0 {
				fmt.Fprintln(s.Err, "no exemptions")
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tPOLICY\tRESOURCE\tEXPIRES\tAPPROVALS\tREQUESTED BY\tREASON")
			for _, e := range items {
				stat := string(e.Status)
				if e.Emergency {
					stat += " EMERGENCY"
				}
				n, _ := svc.Needed(e)
				pol := e.Policy
				if e.Rule != "" && !strings.Contains(e.Rule, "/") {
					pol += "/" + e.Rule
				} else if e.Rule != "" {
					pol = e.Rule // it names its policy already
				}
				x := governance.ToExemption(e)
				// Requesters write these fields: a tab, a line break or an
				// escape in one must not shift columns or forge a row.
				p := report.Printable
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\t%d/%d\t%s\t%s\n", p(e.ID), stat, p(pol), p(x.Kind), p(nsName(x.Namespace, x.Name)),
					e.ExpiresAt.Format(time.RFC3339), len(e.Approvals), n, p(e.RequestedBy), p(e.Reason))
			}
			return tw.Flush()
		},
	}
	lf.register(list)
	list.Flags().StringVar(&status, "status", "", "only this status: pending, approved, rejected, expired, revoked")
	list.Flags().StringVar(&format, "format", "text", "text or json")

	var ef storeFlags
	var output string
	export := &cobra.Command{
		Use:   "export [--output FILE]",
		Short: "Write the approved exemptions as an exemptions file (spec section 6 YAML) for GitOps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			svc, _, err := ef.service(ctx, false)
			if err != nil {
				return err
			}
			defer svc.Store().Close()
			items, err := svc.List(ctx, store.StatusApproved)
			if err != nil {
				return err
			}
			b, err := svc.Export(items)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = s.Out.Write(b)
				return err
			}
			return os.WriteFile(output, b, 0o644)
		},
	}
	ef.register(export)
	export.Flags().StringVarP(&output, "output", "o", "", "write to FILE (default stdout), e.g. .attest/exemptions.yaml")
	c.AddCommand(list, export)
	return c
}

func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// newAuditCmd is `attest audit log|verify`.
func newAuditCmd(s Streams) *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Show and verify the approval store's tamper-evident audit trail"}
	var lf storeFlags
	var since, format string
	logCmd := &cobra.Command{
		Use:   "log [--since 2024-02-01|7d] [--format text|json]",
		Short: "Show the audit log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			from, err := parseSince(since, time.Now())
			if err != nil {
				return usageError{err}
			}
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("unknown format %q (want text or json)", format)}
			}
			svc, _, err := lf.service(ctx, false)
			if err != nil {
				return err
			}
			defer svc.Store().Close()
			entries, err := svc.Store().Audit(ctx, from)
			if err != nil {
				return err
			}
			if format == "json" {
				if entries == nil {
					entries = []store.AuditEntry{}
				}
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			for _, e := range entries {
				fmt.Fprintf(s.Out, "#%d %s %-8s %s by %s (%s) %s\n", e.Seq, e.At.Format(time.RFC3339), e.Action, report.Printable(e.Exemption),
					report.Printable(e.Actor), report.Printable(e.Identity), report.Printable(e.Hash[:min(12, len(e.Hash))]))
			}
			return nil
		},
	}
	lf.register(logCmd)
	logCmd.Flags().StringVar(&since, "since", "", "only entries from this time: RFC 3339, a date, or a duration back from now (7d, 12h)")
	logCmd.Flags().StringVar(&format, "format", "text", "text or json")

	var vf storeFlags
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Prove the audit chain intact and every exemption equal to what the log records (exit 1 if not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			svc, _, err := vf.service(ctx, false)
			if err != nil {
				return err
			}
			defer svc.Store().Close()
			rep, err := svc.Verify(ctx)
			if err != nil {
				return err
			}
			if rep.OK() {
				fmt.Fprintf(s.Out, "audit trail intact: %d entries, %d exemptions match the log\n", rep.Entries, rep.Exemptions)
				return nil
			}
			if rep.Chain != nil {
				fmt.Fprintln(s.Out, "audit chain broken:", report.PrintableLines(rep.Chain.Error()))
			}
			for _, m := range rep.Mismatches {
				fmt.Fprintln(s.Out, "state differs from the log:", report.PrintableLines(fmt.Sprint(m)))
			}
			return exitError{decision.ExitViolations}
		},
	}
	vf.register(verify)
	c.AddCommand(logCmd, verify)
	return c
}

// parseSince reads --since: a time (RFC 3339 or a date) or a duration
// back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a time (2024-02-01T12:00:00Z), a date (2024-02-01) or a duration (7d)", s)
}

var _ exemption.Provider = (*governance.Service)(nil)
