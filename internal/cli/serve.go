package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/bundle"
	"github.com/continuums/attest/internal/governance"
	"github.com/continuums/attest/internal/project"
	"github.com/continuums/attest/internal/server"
	"github.com/continuums/attest/internal/store"
)

type serveFlags struct {
	project      projectFlags
	addr         string
	certFile     string
	keyFile      string
	decisionLog  string
	logLevel     string
	bodyLimit    int64
	evalLimit    int64
	evalTimeout  time.Duration
	readTimeout  time.Duration
	writeTimeout time.Duration
	grace        time.Duration
	poll         time.Duration
	pprofAddr    string
	fetchTimeout time.Duration
	clientCA     string
	exemptTTL    time.Duration
	kubeconfig   string
	clusterNS    bool
}

func newServeCmd(s Streams) *cobra.Command {
	var f serveFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the admission webhook and decision API (POST /v1/admission, POST /v1/evaluate, GET /metrics)",
		Long: `Serve attest's policies over HTTP: a Kubernetes ValidatingWebhook endpoint
(POST /v1/admission), the policy check JSON report for posted manifests
(POST /v1/evaluate), Prometheus metrics (GET /metrics), and GET /healthz and
GET /readyz. Policies come from the project as for 'attest policy check', plus
policy_bundle_url (polled with ETag) and signed bundles when
policy.bundle_verification has keys. SIGHUP reloads; so does any change of the
local policy files. Without --tls-cert the address must be loopback.

With an approval store (--store, exemptions.store, or the default SQLite file
if it exists) its approved exemptions apply to admission without a restart,
and /v1/exemptions, /v1/overrides and /v1/audit serve the exemption workflow
to callers authenticated by a bearer token (server.auth.tokens, hashed with
'attest serve hash-token') or a client certificate (server.auth.client_ca).
See docs/serve.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), s, &f) },
	}
	f.project.register(c)
	fl := c.Flags()
	fl.StringVar(&f.addr, "addr", server.DefaultAddr, "listen address HOST:PORT")
	fl.StringVar(&f.certFile, "tls-cert", "", "TLS certificate FILE (PEM), reloaded when it changes")
	fl.StringVar(&f.keyFile, "tls-key", "", "TLS private key FILE (PEM)")
	fl.StringVar(&f.clientCA, "client-ca", "", "PEM FILE of CAs whose client certificates authenticate on the exemption endpoints (default: server.auth.client_ca)")
	fl.DurationVar(&f.exemptTTL, "exemptions-ttl", server.DefaultExemptionSync, "how often approved exemptions are re-read from the approval store (changes made through this server apply at once)")
	c.AddCommand(newHashTokenCmd(s))
	fl.StringVar(&f.decisionLog, "decision-log", "", "write one JSON line per admission decision to FILE (- for stdout)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.Int64Var(&f.bodyLimit, "max-body-bytes", server.DefaultBodyLimit, "largest AdmissionReview body accepted")
	fl.Int64Var(&f.evalLimit, "max-evaluate-bytes", server.DefaultEvaluateBodyLimit, "largest /v1/evaluate body accepted (manifests take about 50 times their size in memory while checked)")
	fl.DurationVar(&f.evalTimeout, "eval-timeout", server.DefaultEvalTimeout, "deadline for evaluating one request")
	fl.DurationVar(&f.readTimeout, "read-timeout", server.DefaultReadTimeout, "HTTP read timeout")
	fl.DurationVar(&f.writeTimeout, "write-timeout", server.DefaultWriteTimeout, "HTTP write timeout")
	fl.DurationVar(&f.grace, "shutdown-grace", server.DefaultShutdown, "how long shutdown waits for in-flight requests")
	fl.StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this loopback HOST:PORT (off when empty)")
	fl.DurationVar(&f.poll, "poll-interval", server.DefaultPoll, "how often the bundle URL and local policy files are checked for changes (0: never)")
	fl.DurationVar(&f.fetchTimeout, "bundle-timeout", 30*time.Second, "deadline for one bundle download")
	fl.BoolVar(&f.clusterNS, "cluster-namespaces", true, "read the cluster's Namespace labels for Gatekeeper namespaceSelectors (through --kubeconfig, else the pod's service account; outside a pod without --kubeconfig they are not read)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig FILE for the cluster whose Namespaces are read (default: the pod's service account)")
	return c
}

func runServe(ctx context.Context, s Streams, f *serveFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	logger := slog.New(slog.NewJSONHandler(s.Err, &slog.HandlerOptions{Level: level}))
	opts := f.project.options(s)
	opts.Stdin = nil
	opts.Debug = nil // policy.debug output would interleave with the JSON log
	opts.OnPanic = func(v any, stack []byte) {
		logger.Error("policy evaluation panicked; the policy is reported as failed",
			slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(stack)))
	}
	gopts, closeStore, err := serveGovernance(ctx, opts, f, logger)
	if err != nil {
		return err
	}
	defer closeStore()
	if gopts.cache != nil {
		// The same cache that the server refreshes after a change: the
		// project's first load and every sync read through it.
		opts.StoreExemptions = gopts.cache
	}
	var cluster server.ClusterCache
	switch {
	case f.clusterNS:
		ns, err := server.ClusterNamespaces(f.kubeconfig, logger)
		if err != nil {
			return usageError{err}
		}
		if ns != nil {
			// Every load of the policies (bundle reloads too) builds
			// its Gatekeeper constraints with opts, so with this lookup.
			opts.NamespaceLookup, cluster = ns, ns
		}
	case f.kubeconfig != "":
		return usageError{errors.New("--kubeconfig is only read with --cluster-namespaces")}
	}
	src, err := server.NewSource(opts, server.WithFetchOptions(bundle.WithFetchTimeout(f.fetchTimeout)))
	if err != nil {
		return err
	}
	defer src.Close()
	sopts := []server.Option{
		server.WithAddr(f.addr),
		server.WithLoader(src.Load),
		server.WithLogger(logger),
		server.WithBodyLimit(f.bodyLimit),
		server.WithEvaluateBodyLimit(f.evalLimit),
		server.WithEvalTimeout(f.evalTimeout),
		server.WithTimeouts(f.readTimeout, f.writeTimeout),
		server.WithShutdownGrace(f.grace),
		server.WithPollInterval(f.poll),
		server.WithPprofAddr(f.pprofAddr),
		server.WithVersion(Version),
		server.WithRuntimeTuning(os.Getenv),
	}
	sopts = append(sopts, gopts.opts...)
	if cluster != nil {
		sopts = append(sopts, server.WithClusterCache(cluster))
	}
	if f.certFile != "" || f.keyFile != "" {
		sopts = append(sopts, server.WithTLS(f.certFile, f.keyFile))
	}
	if f.decisionLog != "" {
		var w io.Writer = s.Out
		if f.decisionLog != "-" {
			file, err := os.OpenFile(f.decisionLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return fmt.Errorf("--decision-log: %w", err)
			}
			defer file.Close()
			w = file
		}
		sopts = append(sopts, server.WithDecisionLog(w))
	}
	srv, err := server.New(sopts...)
	if err != nil {
		return usageError{err}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading policies")
				_ = srv.Reload(ctx, true)
			}
		}
	}()
	if err := srv.Run(ctx, nil); err != nil {
		logger.Error("server stopped", slog.String("error", err.Error()))
		return exitError{1}
	}
	return nil
}

// serveGov is what serveGovernance sets up.
type serveGov struct {
	opts  []server.Option
	cache *governance.Cached
}

// serveGovernance opens the approval store (--store, else exemptions.store,
// else the default SQLite file if it exists, as policy check does) with a
// cached provider for admission, and reads the client CA file. Without a
// store the exemption endpoints answer 404.
func serveGovernance(ctx context.Context, opts project.Options, f *serveFlags, logger *slog.Logger) (serveGov, func(), error) {
	var g serveGov
	nop := func() {}
	cfg, cerr := server.LoadConfig(opts)
	if cerr != nil {
		// The server reports the configuration on its first load and
		// stays unready; only the store and CA settings are missing here.
		logger.Warn("configuration unreadable: no approval store or client CA from it", slog.String("error", cerr.Error()))
		cfg = nil
	}
	caFile := f.clientCA
	if caFile == "" && cfg != nil && cfg.Server.Auth.ClientCA != "" {
		caFile = cfg.Server.Auth.ClientCA
		if !filepath.IsAbs(caFile) {
			caFile = filepath.Join(opts.Dir, caFile)
		}
	}
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return g, nop, usageError{fmt.Errorf("client CA: %w", err)}
		}
		pool, err := server.LoadClientCAs(data)
		if err != nil {
			return g, nop, usageError{fmt.Errorf("client CA %s: %w", caFile, err)}
		}
		g.opts = append(g.opts, server.WithClientCAs(pool))
	}
	url := opts.Store
	if url == "" && cfg != nil {
		url = cfg.Exemptions.Store
	}
	if url == "" {
		path, err := store.DefaultPath(os.Getenv)
		if err != nil {
			return g, nop, nil
		}
		if _, err := os.Stat(path); err != nil {
			logger.Info("no approval store: the exemption endpoints are off (give --store)")
			return g, nop, nil
		}
		url = "sqlite://" + path
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return g, nop, fmt.Errorf("approval store: %w", err)
	}
	g.cache = governance.NewCached(governance.New(st), f.exemptTTL)
	g.opts = append(g.opts, server.WithApprovalStore(st, g.cache), server.WithExemptionSync(f.exemptTTL))
	return g, func() { st.Close() }, nil
}

// newHashTokenCmd is `attest serve hash-token`: the SHA-256 that
// server.auth.tokens stores, of a token read from stdin (never from the
// command line, where it would end up in the shell history and ps).
func newHashTokenCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "hash-token < token-file",
		Short: "Print the SHA-256 of a bearer token (read from stdin) for server.auth.tokens",
		Long: `Read a bearer token from stdin (its first line; a trailing newline is not
part of it) and print its SHA-256 in hex, for the configuration:

  server:
    auth:
      tokens:
        - identity: alice@company.com
          sha256: <the printed hash>

Generate tokens with, for example, 'openssl rand -hex 32'. Tokens shorter than
16 characters are refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if s.In == nil {
				return usageError{errors.New("no stdin to read the token from")}
			}
			line, err := bufio.NewReader(io.LimitReader(s.In, 4096)).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read the token: %w", err)
			}
			tok := strings.TrimRight(line, "\r\n")
			if strings.TrimSpace(tok) != tok || tok == "" {
				return usageError{errors.New("the token is empty or has leading or trailing spaces")}
			}
			if len(tok) < 16 {
				return usageError{errors.New("the token is shorter than 16 characters: too easy to guess (openssl rand -hex 32 makes a good one)")}
			}
			fmt.Fprintln(s.Out, server.HashToken(tok))
			return nil
		},
	}
}
