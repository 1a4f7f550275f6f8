// Package metrics holds attest's Prometheus series (spec section 9) on a
// registry of its own, so tests and several servers in one process never
// share counters, and writes them in the text format for node_exporter's
// textfile collector or a Pushgateway.
//
// The names are the spec's: users' alerts and dashboards use them. One of
// them, attest_policy_violation_severity, is a counter without the _total
// suffix, which `promtool check metrics` lints; it keeps the spec's name
// because the spec's CriticalPolicyViolation alert reads it with increase().
package metrics

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/continuums/attest/internal/finding"
)

// Series names, exported so docs, alert rules and tests refer to one spelling.
const (
	Evaluations       = "attest_policy_evaluations_total"
	ViolationSeverity = "attest_policy_violation_severity"
	Duration          = "attest_policy_evaluation_duration_seconds"
	Violations        = "attest_policy_violations_total"
	Exemptions        = "attest_policy_exemptions_total"
	EvalErrors        = "attest_policy_evaluation_errors_total"
	BundleLastLoad    = "attest_bundle_last_successful_load_timestamp_seconds"
	BundleInfo        = "attest_bundle_info"
	BundleFailures    = "attest_bundle_load_failures_total"
	PoliciesLoaded    = "attest_policies_loaded"
	HTTPRequests      = "attest_http_requests_total"
	HTTPDuration      = "attest_http_request_duration_seconds"
	AdmissionReviews  = "attest_admission_reviews_total"
	InFlight          = "attest_http_requests_in_flight"
	TLSReloadFailures = "attest_tls_certificate_reload_failures_total"
)

// Metrics is one set of attest's series on its own registry.
type Metrics struct {
	reg         *prometheus.Registry
	evaluations *prometheus.CounterVec
	severity    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	violations  *prometheus.CounterVec
	exemptions  *prometheus.CounterVec
	evalErrors  *prometheus.CounterVec
	bundleLoad  prometheus.Gauge
	bundleInfo  *prometheus.GaugeVec
	bundleFails *prometheus.CounterVec
	policies    prometheus.Gauge
	httpReqs    *prometheus.CounterVec
	httpDur     *prometheus.HistogramVec
	admission   *prometheus.CounterVec
	inFlight    prometheus.Gauge
	tlsFails    prometheus.Counter
}

type options struct {
	runtime bool
	server  bool
}

// Option configures New.
type Option func(*options)

// WithRuntime adds the Go and process collectors. The server wants them;
// a textfile written by the CLI must not have them, as node_exporter
// already exports its own go_ and process_ series and would refuse the
// duplicates.
func WithRuntime() Option { return func(o *options) { o.runtime = true } }

// WithServer adds the HTTP and admission series of `attest serve`.
func WithServer() Option { return func(o *options) { o.server = true } }

// New registers every series on a new registry.
func New(opts ...Option) *Metrics {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.evaluations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: Evaluations,
		Help: "Policy evaluations of one resource, by policy and result (failed: the policy reported a finding that is not exempted, or could not be evaluated).",
	}, []string{"policy", "result"})
	m.severity = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: ViolationSeverity,
		Help: "Violations not exempted, by severity and policy (a counter; the spec's name, without _total).",
	}, []string{"severity", "policy"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: Duration,
		Help: "Time to evaluate one resource against every enabled policy, by engine.",
		// Most evaluations take well under a millisecond; the top buckets
		// catch policies that approach the evaluation deadline.
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
	}, []string{"engine"})
	m.violations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: Violations,
		Help: "Violations not exempted, by policy, severity and enforcement (strict, warn, dryrun).",
	}, []string{"policy", "severity", "enforcement"})
	m.exemptions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: Exemptions,
		Help: "Findings covered by an exemption, by policy.",
	}, []string{"policy"})
	m.evalErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: EvalErrors,
		Help: "Policy evaluations that failed or timed out, by policy.",
	}, []string{"policy"})
	m.bundleLoad = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: BundleLastLoad,
		Help: "Unix time of the last successful load of the policies, or of the last check that found them unchanged.",
	})
	m.bundleInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: BundleInfo,
		Help: "The policy bundle in use: 1 for its source and revision.",
	}, []string{"source", "revision"})
	m.bundleFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: BundleFailures,
		Help: "Policy loads that failed (download, signature, compile); the last good policies stay in use.",
	}, []string{"source", "reason"})
	m.policies = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: PoliciesLoaded,
		Help: "Number of enabled, compiled policies.",
	})
	m.reg.MustRegister(m.evaluations, m.severity, m.duration, m.violations, m.exemptions, m.evalErrors,
		m.bundleLoad, m.bundleInfo, m.bundleFails, m.policies)
	// Both engines' series exist from the start, so rate() and the
	// dashboards have a zero to start from.
	m.duration.WithLabelValues("opa")
	m.duration.WithLabelValues("gatekeeper")
	if o.server {
		m.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HTTPRequests,
			Help: "HTTP requests served, by handler and status code.",
		}, []string{"handler", "code"})
		m.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    HTTPDuration,
			Help:    "Time to serve one HTTP request, by handler.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"handler"})
		m.admission = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: AdmissionReviews,
			Help: "Admission reviews answered, by operation and decision (allowed, denied, error).",
		}, []string{"operation", "decision"})
		m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: InFlight,
			Help: "Admission and evaluation requests being served.",
		})
		m.tlsFails = prometheus.NewCounter(prometheus.CounterOpts{
			Name: TLSReloadFailures,
			Help: "Changed TLS certificate or key files that could not be loaded; the previous certificate stays in use.",
		})
		m.reg.MustRegister(m.httpReqs, m.httpDur, m.admission, m.inFlight, m.tlsFails)
	}
	if o.runtime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry is the registry every series is on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry for GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveDuration records one resource's evaluation time.
func (m *Metrics) ObserveDuration(engine string, d time.Duration) {
	m.duration.WithLabelValues(engine).Observe(d.Seconds())
}

// RecordResource counts one resource's evaluation by every policy in
// policies, given the findings on that resource (exemptions applied).
// A policy with no finding passed; one with a finding that is not exempted,
// whatever its enforcement, failed: dryrun findings are "only counted", and
// this is where they are counted.
func (m *Metrics) RecordResource(policies []string, findings []finding.Finding) {
	failed := make(map[string]bool, len(findings))
	for i := range findings {
		f := &findings[i]
		switch {
		case f.Kind == finding.KindError:
			failed[f.Policy] = true
			m.evalErrors.WithLabelValues(f.Policy).Inc()
		case f.Exempted():
			m.exemptions.WithLabelValues(f.Policy).Inc()
		default:
			failed[f.Policy] = true
			sev := f.Severity.String()
			m.severity.WithLabelValues(sev, f.Policy).Inc()
			m.violations.WithLabelValues(f.Policy, sev, string(enforcementOf(f))).Inc()
		}
	}
	for _, p := range policies {
		res := "passed"
		if failed[p] {
			res = "failed"
		}
		m.evaluations.WithLabelValues(p, res).Inc()
	}
}

func enforcementOf(f *finding.Finding) finding.Enforcement {
	if f.Enforcement == "" {
		return finding.EnforcementStrict
	}
	// A conftest warn rule's result only warns, whatever the policy's
	// enforcement says.
	if f.Kind == finding.KindWarning && f.Enforcement == finding.EnforcementStrict {
		return finding.EnforcementWarn
	}
	return f.Enforcement
}

// RecordResult counts a whole run of `attest policy check`: every checked
// resource once per policy, with the findings on it.
func (m *Metrics) RecordResult(policies []string, res *finding.Result) {
	type key struct {
		ref  finding.ResourceRef
		file string
		doc  int
	}
	byRes := map[key][]finding.Finding{}
	for _, f := range res.Findings {
		k := key{f.Resource, f.Location.File, f.Location.Document}
		byRes[k] = append(byRes[k], f)
	}
	seen := map[key]bool{}
	for _, c := range res.Checked {
		k := key{c.Resource, c.Location.File, c.Location.Document}
		if seen[k] {
			continue
		}
		seen[k] = true
		m.RecordResource(policies, byRes[k])
	}
	// Findings on a resource Checked does not list (it should not happen)
	// are still counted, so no violation is lost from the alerts.
	keys := make([]key, 0, len(byRes))
	for k := range byRes {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].file < keys[j].file })
	for _, k := range keys {
		m.RecordResource(nil, byRes[k])
	}
}

// PolicyNames gives the names RecordResource wants, once per name.
func PolicyNames[T interface{ comparable }](list []T, name func(T) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range list {
		n := name(p)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// BundleLoaded records a successful load: its time, source and revision.
func (m *Metrics) BundleLoaded(at time.Time, source, revision string, policies int) {
	m.bundleLoad.Set(float64(at.UnixNano()) / 1e9)
	m.BundleSwapped(source, revision, policies)
}

// BundleSwapped records the policies now in use without calling the load
// a success: a load that went on with a download failing (Degraded).
func (m *Metrics) BundleSwapped(source, revision string, policies int) {
	m.bundleInfo.Reset()
	m.bundleInfo.WithLabelValues(source, revision).Set(1)
	m.policies.Set(float64(policies))
}

// BundleCurrent records a check that found the policies in use unchanged:
// they are as current as if just loaded.
func (m *Metrics) BundleCurrent(at time.Time) {
	m.bundleLoad.Set(float64(at.UnixNano()) / 1e9)
}

// BundleFailed records a load that failed; reason is a short word
// (download, verify, compile, read), never the error text, which would
// make a new series per message.
func (m *Metrics) BundleFailed(source, reason string) {
	m.bundleFails.WithLabelValues(source, reason).Inc()
}

// ObserveHTTP records one served request (server metrics only).
func (m *Metrics) ObserveHTTP(handler string, code int, d time.Duration) {
	if m.httpReqs == nil {
		return
	}
	m.httpReqs.WithLabelValues(handler, fmt.Sprint(code)).Inc()
	m.httpDur.WithLabelValues(handler).Observe(d.Seconds())
}

// InFlightAdd moves the in-flight gauge by delta (server metrics only).
func (m *Metrics) InFlightAdd(delta float64) {
	if m.inFlight != nil {
		m.inFlight.Add(delta)
	}
}

// TLSReloadFailed counts changed certificate files that did not load
// (server metrics only).
func (m *Metrics) TLSReloadFailed() {
	if m.tlsFails != nil {
		m.tlsFails.Inc()
	}
}

// Admission counts one admission decision (server metrics only).
func (m *Metrics) Admission(operation, decision string) {
	if m.admission == nil {
		return
	}
	m.admission.WithLabelValues(operation, decision).Inc()
}

// WriteText writes every series in the Prometheus text format.
func (m *Metrics) WriteText(w io.Writer) error {
	fams, err := m.reg.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(w, f); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return nil
}

// WriteFile writes the text format to path through a temporary file in
// the same directory and a rename: node_exporter's textfile collector
// reads the directory at any moment and must never see half a file.
func (m *Metrics) WriteFile(path string) error {
	// The rename would fail on a directory with "file exists": say what
	// is wrong before writing anything.
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("metrics file %s: is a directory; name a file (node_exporter reads *.prom)", path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := m.WriteText(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("metrics file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	return nil
}
