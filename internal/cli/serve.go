package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/continuums/attest/internal/bundle"
	"github.com/continuums/attest/internal/server"
)

type serveFlags struct {
	project      projectFlags
	addr         string
	certFile     string
	keyFile      string
	store        string
	decisionLog  string
	logLevel     string
	bodyLimit    int64
	evalTimeout  time.Duration
	readTimeout  time.Duration
	writeTimeout time.Duration
	grace        time.Duration
	poll         time.Duration
	fetchTimeout time.Duration
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
See docs/serve.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), s, &f) },
	}
	f.project.register(c)
	fl := c.Flags()
	fl.StringVar(&f.addr, "addr", server.DefaultAddr, "listen address HOST:PORT")
	fl.StringVar(&f.certFile, "tls-cert", "", "TLS certificate FILE (PEM), reloaded when it changes")
	fl.StringVar(&f.keyFile, "tls-key", "", "TLS private key FILE (PEM)")
	if fl.Lookup("store") == nil {
		// The project flags carry --store once the governance store is
		// wired in; until then serve declares it and refuses it.
		fl.StringVar(&f.store, "store", "", "governance store URL for exemptions (sqlite: or postgres:)")
	}
	fl.StringVar(&f.decisionLog, "decision-log", "", "write one JSON line per admission decision to FILE (- for stdout)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.Int64Var(&f.bodyLimit, "max-body-bytes", server.DefaultBodyLimit, "largest request body accepted")
	fl.DurationVar(&f.evalTimeout, "eval-timeout", server.DefaultEvalTimeout, "deadline for evaluating one request")
	fl.DurationVar(&f.readTimeout, "read-timeout", server.DefaultReadTimeout, "HTTP read timeout")
	fl.DurationVar(&f.writeTimeout, "write-timeout", server.DefaultWriteTimeout, "HTTP write timeout")
	fl.DurationVar(&f.grace, "shutdown-grace", server.DefaultShutdown, "how long shutdown waits for in-flight requests")
	fl.DurationVar(&f.poll, "poll-interval", server.DefaultPoll, "how often the bundle URL and local policy files are checked for changes (0: never)")
	fl.DurationVar(&f.fetchTimeout, "bundle-timeout", 30*time.Second, "deadline for one bundle download")
	return c
}

func runServe(ctx context.Context, s Streams, f *serveFlags) error {
	if f.store != "" {
		// The governance store (issue 5) plugs in as an exemption
		// provider once it lands; refusing is better than ignoring it.
		return usageError{errors.New("--store is not available in this build yet: exemptions come from .attest/exemptions.yaml and annotations")}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	logger := slog.New(slog.NewJSONHandler(s.Err, &slog.HandlerOptions{Level: level}))
	opts := f.project.options(s)
	opts.Stdin = nil
	opts.Debug = nil // policy.debug output would interleave with the JSON log
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
		server.WithEvalTimeout(f.evalTimeout),
		server.WithTimeouts(f.readTimeout, f.writeTimeout),
		server.WithShutdownGrace(f.grace),
		server.WithPollInterval(f.poll),
		server.WithVersion(Version),
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
