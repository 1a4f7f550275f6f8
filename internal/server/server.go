// Package server is `attest serve`: the Allow/Deny decision of the spec's
// architecture (section 2) as a Kubernetes admission webhook, the same
// findings over HTTP for pipelines and GitOps controllers, and the
// Prometheus metrics of section 9. It evaluates with the project the CLI
// opens (internal/project): one engine, one configuration, one set of
// exemptions, never a copy with its own rules.
//
// Policies are swapped whole: a reload compiles a new project off to the
// side and publishes it with one atomic store, so a request sees either
// the old policies or the new ones, never a mix, and a failed reload
// leaves the last good policies in place.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/continuums/attest/internal/gctune"
	"github.com/continuums/attest/internal/metrics"
	"github.com/continuums/attest/internal/policy"
	"github.com/continuums/attest/internal/project"
)

// Defaults, chosen for an admission webhook: kube-apiserver waits at most
// 10 s (timeoutSeconds, default 10) for an answer, so a decision must come
// well before that.
const (
	DefaultAddr      = "127.0.0.1:8443"
	DefaultBodyLimit = 6 << 20 // an AdmissionReview holds object and oldObject, each up to etcd's 1.5 MiB, in JSON
	// DefaultEvaluateBodyLimit caps a /v1/evaluate body: manifests cost
	// about 50 times their size in memory while they are checked (YAML
	// nodes, OPA values, findings), so 2 MiB stays within deploy/'s
	// 256 MiB beside admission traffic.
	DefaultEvaluateBodyLimit = 2 << 20
	// evaluateQueue is how many /v1/evaluate requests may hold a body at
	// once (one evaluating, the others waiting for it).
	evaluateQueue       = 4
	DefaultEvalTimeout  = 3 * time.Second
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 15 * time.Second
	DefaultIdleTimeout  = 90 * time.Second
	DefaultShutdown     = 20 * time.Second
	DefaultPoll         = 30 * time.Second
	maxPollBackoff      = 5 * time.Minute
)

// Snapshot is one loaded and compiled set of policies with the
// configuration and exemptions that came with it.
type Snapshot struct {
	Project  *project.Project
	Source   string // "local", "path" or "url": where the policies came from
	Revision string // the bundle's manifest revision, when there is one
	LoadedAt time.Time
	policies []string
	engines  []string // the engine kinds that have policies, for the duration histogram
	// readsNamespaces: a Gatekeeper constraint selects namespaces by
	// label, so the cluster's Namespaces must be read before serving.
	readsNamespaces bool
	// Degraded is a failure this load went on despite (the bundle URL
	// down while local files changed): counted and logged as a failure,
	// while the rest of the load applies.
	Degraded *LoadError
}

// Policies are the enabled policies' names, for the evaluation counters.
func (s *Snapshot) Policies() []string { return s.policies }

// LoadFunc loads the policies. force is true on an explicit reload
// (SIGHUP, Reload); otherwise it may return (nil, nil) when nothing
// changed since the last call (a 304 from the bundle server, the same
// local files), which costs no compile.
type LoadFunc func(ctx context.Context, force bool) (*Snapshot, error)

// LoadError says which step of a load failed, for the failure metric.
type LoadError struct {
	Source string // local, path, url
	Reason string // download, verify, read, compile, config
	Err    error
}

func (e *LoadError) Error() string { return e.Source + " policies: " + e.Reason + ": " + e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Server answers admission reviews and evaluation requests.
type Server struct {
	o       options
	state   atomic.Pointer[Snapshot]
	reload  sync.Mutex // one load at a time; requests never wait on it
	metrics *metrics.Metrics
	log     *slog.Logger
	dlog    *slog.Logger // decision log, nil when off
	dlogW   *batchWriter // what dlog writes to (decisionlog.go)
	// govState is the store-exemption sync's memory (storesync.go).
	govState govState
	// evaluating admits one /v1/evaluate at a time: each can hold
	// ~100 MiB, and admission must keep its memory.
	evaluating chan struct{}
	// evalQueue bounds the /v1/evaluate requests that hold a body.
	evalQueue chan struct{}
	// firstLoad is closed once Run's first load has been tried.
	firstLoad chan struct{}
}

type options struct {
	addr         string
	certFile     string
	keyFile      string
	load         LoadFunc
	logger       *slog.Logger
	decisionLog  io.Writer
	bodyLimit    int64
	evalLimit    int64 // /v1/evaluate's body limit
	evalTimeout  time.Duration
	readTimeout  time.Duration
	writeTimeout time.Duration
	shutdown     time.Duration
	poll         time.Duration
	metrics      *metrics.Metrics
	version      string
	pprofAddr    string         // pprof.go
	gc           *gctune.Server // nil: the process's collector settings are left alone
	gov          govOptions     // approval store, client CAs (storesync.go)
	cluster      ClusterCache   // nil: nothing read from the cluster (cluster.go)
}

// Option configures New.
type Option func(*options)

// WithAddr sets the listen address (host:port).
func WithAddr(a string) Option { return func(o *options) { o.addr = a } }

// WithTLS serves HTTPS with the certificate and key files, reread when
// they change (cert-manager renews them in place).
func WithTLS(certFile, keyFile string) Option {
	return func(o *options) { o.certFile, o.keyFile = certFile, keyFile }
}

// WithLoader sets how policies are loaded (required).
func WithLoader(fn LoadFunc) Option { return func(o *options) { o.load = fn } }

// WithLogger sets the structured log (default: JSON to stderr is the
// caller's choice; nil discards).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDecisionLog writes one JSON line per admission decision to w.
func WithDecisionLog(w io.Writer) Option { return func(o *options) { o.decisionLog = w } }

// WithBodyLimit caps a request body in bytes.
func WithBodyLimit(n int64) Option { return func(o *options) { o.bodyLimit = n } }

// WithEvaluateBodyLimit caps a /v1/evaluate body in bytes.
func WithEvaluateBodyLimit(n int64) Option { return func(o *options) { o.evalLimit = n } }

// WithEvalTimeout bounds the evaluation of one request.
func WithEvalTimeout(d time.Duration) Option { return func(o *options) { o.evalTimeout = d } }

// WithTimeouts sets the HTTP read and write timeouts.
func WithTimeouts(read, write time.Duration) Option {
	return func(o *options) { o.readTimeout, o.writeTimeout = read, write }
}

// WithShutdownGrace bounds how long shutdown waits for in-flight requests.
func WithShutdownGrace(d time.Duration) Option { return func(o *options) { o.shutdown = d } }

// WithPollInterval sets how often the loader is asked for changes (bundle
// URL, local policy files); 0 turns polling off.
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.poll = d } }

// WithMetrics uses m instead of a new set of series.
func WithMetrics(m *metrics.Metrics) Option { return func(o *options) { o.metrics = m } }

// WithVersion names attest's version in the JSON reports.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithRuntimeTuning lets the server set the garbage collector for a
// long-running process (gctune.Server): a soft memory limit under the
// container's limit, and a heap goal of the live heap plus a fixed
// allowance, kept up to date while it runs. getenv is asked for GOGC and GOMEMLIMIT: what the
// operator set there is kept. It changes process-wide settings, so only
// the attest binary asks for it.
func WithRuntimeTuning(getenv func(string) string) Option {
	return func(o *options) { g := gctune.NewServer(getenv); o.gc = &g }
}

// errNotReady answers requests that come before the first good load.
var errNotReady = errors.New("policies not loaded yet")

// New makes a server; it does not load policies (Reload or Run does).
func New(opts ...Option) (*Server, error) {
	o := options{
		addr:         DefaultAddr,
		bodyLimit:    DefaultBodyLimit,
		evalLimit:    DefaultEvaluateBodyLimit,
		evalTimeout:  DefaultEvalTimeout,
		readTimeout:  DefaultReadTimeout,
		writeTimeout: DefaultWriteTimeout,
		shutdown:     DefaultShutdown,
		poll:         DefaultPoll,
		gov:          govOptions{sync: DefaultExemptionSync},
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.load == nil {
		return nil, errors.New("server: no policy loader")
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, errors.New("server: --tls-cert and --tls-key go together")
	}
	if o.certFile == "" && !loopback(o.addr) {
		return nil, fmt.Errorf("server: %s is not a loopback address: plain HTTP is only served on loopback; give --tls-cert and --tls-key", o.addr)
	}
	if o.gov.clientCAs != nil && o.certFile == "" {
		return nil, errors.New("server: client certificates (server.auth.client_ca) need TLS: give --tls-cert and --tls-key")
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.metrics == nil {
		o.metrics = metrics.New(metrics.WithRuntime(), metrics.WithServer())
	}
	s := &Server{o: o, metrics: o.metrics, log: o.logger, evaluating: make(chan struct{}, 1), evalQueue: make(chan struct{}, evaluateQueue), firstLoad: make(chan struct{})}
	if o.decisionLog != nil {
		s.dlogW = newBatchWriter(o.decisionLog)
		s.dlog = slog.New(slog.NewJSONHandler(s.dlogW, nil))
	}
	return s, nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Metrics are the server's series.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Snapshot is the policies in use, nil before the first good load.
func (s *Server) Snapshot() *Snapshot { return s.state.Load() }

// Ready reports whether policies are loaded and compiled.
func (s *Server) Ready() bool { return s.state.Load() != nil }

// Reload loads the policies and swaps them in if the load succeeds. With
// force false the loader may report that nothing changed. On failure the
// policies in use stay, and the failure is counted and logged.
func (s *Server) Reload(ctx context.Context, force bool) error {
	s.reload.Lock()
	defer s.reload.Unlock()
	snap, err := s.o.load(ctx, force)
	if err != nil {
		src, reason := "local", "load"
		var le *LoadError
		if errors.As(err, &le) {
			src, reason = le.Source, le.Reason
		}
		s.metrics.BundleFailed(src, reason)
		s.log.LogAttrs(ctx, slog.LevelError, "policy load failed; the last good policies stay in use",
			slog.String("source", src), slog.String("reason", reason), slog.String("error", err.Error()),
			slog.Bool("serving", s.Ready()))
		return err
	}
	if snap == nil {
		// Checked, and nothing changed: the policies in use are current.
		// Without this, a bundle unchanged for an hour and one failed
		// download made AttestPolicyBundleStale fire while nothing was
		// stale.
		if s.Ready() {
			s.metrics.BundleCurrent(time.Now())
		}
		return nil
	}
	if snap.LoadedAt.IsZero() {
		snap.LoadedAt = time.Now()
	}
	snap.policies = metrics.PolicyNames(snap.Project.Engine.Policies(), func(p *policy.Policy) string { return p.Name })
	snap.engines = engineKinds(snap.Project.Engine.Policies())
	snap.readsNamespaces = snap.Project.Gatekeeper != nil && snap.Project.Gatekeeper.SelectsNamespacesByLabel()
	s.state.Store(snap)
	if d := snap.Degraded; d == nil {
		s.metrics.BundleLoaded(snap.LoadedAt, snap.Source, snap.Revision, len(snap.policies))
	} else {
		// Not a good load of the bundle: AttestPolicyBundleStale keeps
		// counting while its URL is down.
		s.metrics.BundleSwapped(snap.Source, snap.Revision, len(snap.policies))
		s.metrics.BundleFailed(d.Source, d.Reason)
		s.log.LogAttrs(ctx, slog.LevelError, "policy bundle at the URL not loaded; the verified copy in use stays, local changes applied",
			slog.String("source", d.Source), slog.String("reason", d.Reason), slog.String("error", d.Err.Error()))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "policies loaded", slog.String("source", snap.Source),
		slog.String("revision", snap.Revision), slog.Int("policies", len(snap.policies)))
	return nil
}

// Handler is every endpoint, for tests and embedding.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/admission", s.instrument("admission", http.HandlerFunc(s.handleAdmission)))
	mux.Handle("POST /v1/evaluate", s.instrument("evaluate", http.HandlerFunc(s.handleEvaluate)))
	// Exemption workflow and audit trail (storesync.go): authenticated.
	mux.Handle("POST /v1/exemptions", s.instrument("exemptions", s.governed(s.handleFile(false))))
	mux.Handle("POST /v1/overrides", s.instrument("exemptions", s.governed(s.handleFile(true))))
	mux.Handle("POST /v1/exemptions/{id}/approve", s.instrument("exemptions", s.governed(s.handleDecide("approve"))))
	mux.Handle("POST /v1/exemptions/{id}/reject", s.instrument("exemptions", s.governed(s.handleDecide("reject"))))
	mux.Handle("POST /v1/exemptions/{id}/revoke", s.instrument("exemptions", s.governed(s.handleDecide("revoke"))))
	mux.Handle("GET /v1/exemptions", s.instrument("exemptions", s.governed(s.handleList)))
	mux.Handle("GET /v1/exemptions/{id}", s.instrument("exemptions", s.governed(s.handleGet)))
	mux.Handle("GET /v1/audit", s.instrument("audit", s.governed(s.handleAudit)))
	mux.Handle("GET /v1/audit/verify", s.instrument("audit", s.governed(s.handleVerify)))
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		snap := s.state.Load()
		if snap == nil {
			http.Error(w, "policies not loaded yet", http.StatusServiceUnavailable)
			return
		}
		if snap.readsNamespaces && !s.clusterSynced() {
			http.Error(w, "the cluster's Namespaces not read yet", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// statusWriter remembers the status code for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) instrument(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.InFlightAdd(1)
		defer s.metrics.InFlightAdd(-1)
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.ObserveHTTP(name, sw.code, d)
		if sw.code >= 400 {
			// Method, path, status and peer only: never the body, headers
			// or query, which may carry tokens.
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused", slog.String("handler", name),
				slog.Int("status", sw.code), slog.String("remote", r.RemoteAddr), slog.Duration("duration", d))
		}
	})
}

// Run loads the policies, serves until ctx is done, then shuts down
// gracefully: the listener closes, in-flight requests finish (up to the
// shutdown grace). A first load that fails does not stop the server: it
// stays unready (GET /readyz 503) and retries on the poll interval.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", s.o.addr)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	stopPprof, err := s.servePprof(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopPprof()
	if s.o.cluster != nil {
		// Read while the policies compile; it stops with ctx.
		s.o.cluster.Start(ctx)
	}
	if s.o.gc != nil {
		s.o.gc.Start()
		gctx, stop := context.WithCancel(ctx)
		defer stop()
		go s.o.gc.Run(gctx, time.Second)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(s.o.readTimeout, 5*time.Second),
		ReadTimeout:       s.o.readTimeout,
		WriteTimeout:      s.o.writeTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.o.certFile != "" {
		cr, err := newCertReloader(s.o.certFile, s.o.keyFile, s.log, s.metrics.TLSReloadFailed)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cr.get}
		s.configureClientAuth(srv.TLSConfig)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "serving", slog.String("addr", ln.Addr().String()), slog.Bool("tls", s.o.certFile != ""))

	pollDone := make(chan struct{})
	pctx, stopPoll := context.WithCancel(ctx)
	go func() {
		defer close(pollDone)
		// The first load runs while the server already answers: /healthz
		// is alive and /readyz says not ready until it is done. A bundle
		// server that takes its time (up to --bundle-timeout) must not make
		// the kubelet's liveness probe restart the pod.
		_ = s.Reload(pctx, true)
		close(s.firstLoad)
		s.poll(pctx)
	}()
	waitSync := s.startExemptionSync(pctx)
	stopDlog := s.startDecisionLog(ctx)
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			// ServeTLS offers HTTP/2 beside HTTP/1.1 (ALPN "h2"):
			// kube-apiserver then multiplexes its calls over a few
			// connections instead of opening one per call in flight.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.log.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), s.o.shutdown)
		err = srv.Shutdown(sctx)
		cancel()
		if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	stopPoll()
	<-pollDone
	waitSync()
	stopDlog()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// poll asks the loader for changes; after a failure it waits longer each
// time (up to maxPollBackoff), so a broken bundle server is not hammered.
func (s *Server) poll(ctx context.Context) {
	if s.o.poll <= 0 {
		return
	}
	wait := s.o.poll
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A failed first load is retried in full.
		if err := s.Reload(ctx, !s.Ready()); err != nil {
			wait = min(wait*2, maxPollBackoff)
		} else {
			wait = s.o.poll
		}
		t.Reset(wait)
	}
}
