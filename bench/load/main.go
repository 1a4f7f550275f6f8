// Command load runs `attest serve` and `opa run --server` one after the
// other with the same policies (bench/policies) on the same AdmissionReview
// (review.json, a 2-container Deployment), and prints each server's peak
// throughput and its p50/p99 latency at 80% of its own peak, from an
// open-loop generator (bench/load/loadgen). attest runs twice, without and
// with the decision log. Method and figures: docs/performance.md.
//
//	go run ./bench/load -attest .bin/attest -opa .bin/opa -runs 3
//
// bench/serve.sh builds and installs both and runs this.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/continuums/attest/bench/load/loadgen"
)

func main() {
	var (
		attest   = flag.String("attest", ".bin/attest", "attest binary")
		opa      = flag.String("opa", ".bin/opa", "opa binary (v1.22.3)")
		policies = flag.String("policies", "bench/policies", "the conftest-style rules both servers run")
		wrapper  = flag.String("opa-wrapper", "bench/load/opa", "the Rego that asks those rules about an AdmissionReview for OPA")
		review   = flag.String("review", "bench/load/review.json", "the AdmissionReview posted")
		servers  = flag.String("servers", "attest,attest+decisionlog,opa", "which servers, in order")
		runs     = flag.Int("runs", 3, "runs; every server once per run")
		step     = flag.Duration("step", 2*time.Second, "duration of one ramp step")
		hold     = flag.Duration("hold", 10*time.Second, "duration of the run at 80% of the peak")
		start    = flag.Float64("start", 500, "first rate of the ramp, requests/s")
		factor   = flag.Float64("factor", 1.15, "rate multiplier between ramp steps")
		limit    = flag.Float64("limit", 60000, "highest rate tried")
		conns    = flag.Int("outstanding", 256, "most requests in flight")
		maxP99   = flag.Duration("max-p99", 100*time.Millisecond, "a ramp step with a higher p99 is not sustained")
		keep     = flag.Bool("keep", false, "keep the servers' logs and the decision log (printed directory)")
		prof     = flag.String("cpuprofile", "", "write the generator's own CPU profile to FILE")
		sprof    = flag.String("server-profile", "", "write each server's CPU profile of its 80% run into DIR (attest --pprof-addr, opa --pprof)")
		procs    = flag.Int("procs", 1, "GOMAXPROCS of the generator (it shares the cores with the server it measures)")
		rates    = flag.String("rates", "", "hold each of these rates (comma-separated, requests/s) for -hold instead of the ramp and the 80% run")
		latLog   = flag.String("latency-log", "", "write every held request's latency into DIR, one TSV file per server and run (scheduled ms, latency µs)")
		srvEnv   = flag.String("server-env", "", "extra environment for the servers (comma-separated KEY=VALUE, e.g. GOGC=200)")
	)
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := config{attest: *attest, opa: *opa, policies: *policies, wrapper: *wrapper, review: *review,
		servers: strings.Split(*servers, ","), runs: *runs, step: *step, hold: *hold, start: *start, factor: *factor,
		limit: *limit, conns: *conns, maxP99: *maxP99, keep: *keep, profiles: *sprof, latencyLog: *latLog}
	err := parseLists(&c, *rates, *srvEnv)
	if err == nil {
		err = run(ctx, c)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type config struct {
	attest, opa, policies, wrapper, review string
	profiles                               string    // directory for the servers' CPU profiles, or ""
	latencyLog                             string    // directory for the held runs' latencies, or ""
	rates                                  []float64 // fixed rates to hold (no ramp), or none
	serverEnv                              []string  // KEY=VALUE added to the servers' environment
	servers                                []string
	runs                                   int
	step, hold                             time.Duration
	start, factor, limit                   float64
	conns                                  int
	maxP99                                 time.Duration
	keep                                   bool
}

// parseLists reads -rates and -server-env.
func parseLists(c *config, rates, env string) error {
	for f := range strings.SplitSeq(rates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-rates: %q is not a positive rate", f)
		}
		c.rates = append(c.rates, r)
	}
	for kv := range strings.SplitSeq(env, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("-server-env: %q is not KEY=VALUE", kv)
		}
		c.serverEnv = append(c.serverEnv, kv)
	}
	return nil
}

// measurement is one server in one run.
type measurement struct {
	server string
	peak   float64 // 0 with -rates (no ramp)
	holds  []held  // the 80% run, or each of -rates
}

// held is one run at a fixed rate.
type held struct {
	loadgen.Result
	cpuPerOp time.Duration // the server's CPU (user+system) per answered request
	genPerOp time.Duration // the generator's own CPU per request
	gcs      int           // the server's garbage collections during the run (-1: unknown)
}

func (h held) String() string {
	gc := "?"
	if h.gcs >= 0 {
		gc = strconv.Itoa(h.gcs)
	}
	return fmt.Sprintf("%s  p99.9 %s  send p99 %s  cpu/decision %s (generator %s)  gc %s", h.Result, h.P999.Round(10*time.Microsecond),
		h.SendP99.Round(10*time.Microsecond), h.cpuPerOp.Round(time.Microsecond), h.genPerOp.Round(time.Microsecond), gc)
}

func run(ctx context.Context, c config) error {
	for _, p := range []*string{&c.attest, &c.opa, &c.policies, &c.wrapper, &c.review} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	body, err := os.ReadFile(c.review)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "attest-load-")
	if err != nil {
		return err
	}
	if c.keep {
		fmt.Fprintln(os.Stderr, "load: logs in", work)
	} else {
		defer os.RemoveAll(work)
	}
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("# attest serve vs opa run --server: %s, %d CPUs, load average %s", host, runtime.NumCPU(), load)
	fmt.Printf("# open loop; ramp from %.0f/s x%.2f, %s steps (sustained: >=99%% answered, p99 <= %s); then %s at 80%% of each server's own peak\n",
		c.start, c.factor, c.step, c.maxP99, c.hold)
	g := loadgen.New(c.conns)
	var all [][]measurement
	for i := range c.runs {
		var ms []measurement
		for _, name := range c.servers {
			m, err := measure(ctx, g, c, name, body, filepath.Join(work, fmt.Sprintf("run%d-%s", i+1, strings.ReplaceAll(name, "+", "-"))))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for _, h := range m.holds {
				if c.rates == nil {
					fmt.Printf("run %d  %-22s peak %6.0f/s   at 80%%: %s\n", i+1, name, m.peak, h)
				} else {
					fmt.Printf("run %d  %-22s %s\n", i+1, name, h)
				}
			}
			ms = append(ms, m)
		}
		all = append(all, ms)
	}
	if c.rates != nil {
		summaryRates(c.servers, c.rates, all)
	} else {
		summary(c.servers, all)
	}
	return nil
}

// summary prints medians over the runs, and ratios taken within each run.
func summary(servers []string, all [][]measurement) {
	fmt.Printf("\n| server | peak (decisions/s) | rate at 80%% | p50 at 80%% | p99 at 80%% | CPU per decision |\n|---|---:|---:|---:|---:|---:|\n")
	for j, name := range servers {
		var peak, rate, p50, p99, cpu []float64
		for _, ms := range all {
			m := ms[j]
			peak = append(peak, m.peak)
			h := m.holds[0]
			rate = append(rate, h.Rate)
			p50 = append(p50, float64(h.P50))
			p99 = append(p99, float64(h.P99))
			cpu = append(cpu, float64(h.cpuPerOp))
		}
		fmt.Printf("| %s | %.0f | %.0f | %s | %s | %s |\n", name, median(peak), median(rate),
			time.Duration(median(p50)).Round(10*time.Microsecond), time.Duration(median(p99)).Round(10*time.Microsecond),
			time.Duration(median(cpu)).Round(time.Microsecond))
	}
	fmt.Printf("\nmedians of %d runs; ratios within each run, then their median:\n", len(all))
	idx := func(name string) int { return slices.Index(servers, name) }
	ratio := func(label, a, b string, f func(x, y measurement) float64) {
		i, k := idx(a), idx(b)
		if i < 0 || k < 0 {
			return
		}
		var rs []string
		var vs []float64
		for _, ms := range all {
			v := f(ms[i], ms[k])
			vs = append(vs, v)
			rs = append(rs, strconv.FormatFloat(v, 'f', 2, 64))
		}
		fmt.Printf("  %s: %.2f (runs: %s)\n", label, median(vs), strings.Join(rs, ", "))
	}
	ratio("attest peak / opa peak", "attest", "opa", func(x, y measurement) float64 { return x.peak / y.peak })
	ratio("decision log cost (1 - peak with / peak without)", "attest+decisionlog", "attest", func(x, y measurement) float64 { return 1 - x.peak/y.peak })
	ratio("opa p99 / attest p99 at 80%", "opa", "attest", func(x, y measurement) float64 { return float64(x.holds[0].P99) / float64(y.holds[0].P99) })
}

// summaryRates prints, for -rates, each server's medians at each rate.
func summaryRates(servers []string, rates []float64, all [][]measurement) {
	fmt.Printf("\n| server | rate | p50 | p99 | p99.9 | max | send p99 | CPU per decision | GCs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for j, name := range servers {
		for k, rate := range rates {
			var p50, p99, p999, mx, send, cpu, gcs []float64
			for _, ms := range all {
				h := ms[j].holds[k]
				p50 = append(p50, float64(h.P50))
				p99 = append(p99, float64(h.P99))
				p999 = append(p999, float64(h.P999))
				mx = append(mx, float64(h.Max))
				send = append(send, float64(h.SendP99))
				cpu = append(cpu, float64(h.cpuPerOp))
				gcs = append(gcs, float64(h.gcs))
			}
			d := func(v []float64) time.Duration { return time.Duration(median(v)).Round(10 * time.Microsecond) }
			fmt.Printf("| %s | %.0f | %s | %s | %s | %s | %s | %s | %.0f |\n", name, rate, d(p50), d(p99), d(p999), d(mx), d(send),
				time.Duration(median(cpu)).Round(time.Microsecond), median(gcs))
		}
	}
	fmt.Printf("\nmedians of %d runs\n", len(all))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// measure starts one server, checks its answer, ramps to its peak, runs
// at 80% of it (or, with -rates, holds each rate instead), and stops it.
func measure(ctx context.Context, g *loadgen.Generator, c config, name string, review []byte, dir string) (measurement, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return measurement{}, err
	}
	port, err := freePort()
	if err != nil {
		return measurement{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var cmd *exec.Cmd
	var t loadgen.Target
	var health, profile string
	switch name {
	case "attest", "attest+decisionlog":
		args := []string{"serve", "--addr", addr, "--no-builtin", "--policy", c.policies, "--poll-interval", "0", "--log-level", "warn"}
		if name == "attest+decisionlog" {
			args = append(args, "--decision-log", filepath.Join(dir, "decisions.jsonl"))
		}
		if c.profiles != "" {
			pport, err := freePort()
			if err != nil {
				return measurement{}, err
			}
			paddr := "127.0.0.1:" + strconv.Itoa(pport)
			args = append(args, "--pprof-addr", paddr)
			profile = "http://" + paddr + "/debug/pprof/profile"
		}
		cmd = exec.CommandContext(ctx, c.attest, args...)
		t = loadgen.Target{Name: name, URL: "http://" + addr + "/v1/admission", Body: review}
		health = "http://" + addr + "/readyz"
	case "opa":
		args := []string{"run", "--server", "--addr", addr, "--log-level", "error",
			"--skip-version-check", "--disable-telemetry"}
		if c.profiles != "" {
			args = append(args, "--pprof")
			profile = "http://" + addr + "/debug/pprof/profile"
		}
		cmd = exec.CommandContext(ctx, c.opa, append(args, c.policies, c.wrapper)...)
		t = loadgen.Target{Name: name, URL: "http://" + addr + "/v1/data/attest/admission/response",
			Body: append(append([]byte(`{"input":`), review...), '}')}
		health = "http://" + addr + "/health"
	default:
		return measurement{}, fmt.Errorf("unknown server (attest, attest+decisionlog, opa)")
	}
	// An empty project directory and configuration home: no project or
	// user configuration of this machine gets in.
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "XDG_CONFIG_HOME="+dir, "HOME="+dir), c.serverEnv...)
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return measurement{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return measurement{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-exited
	}()
	if err := waitHealthy(ctx, health, 60*time.Second, exited); err != nil {
		return measurement{}, fmt.Errorf("%w (log: %s)", err, filepath.Join(dir, "server.log"))
	}
	defer g.Close()
	if err := checkAnswer(g.Client, name, t); err != nil {
		return measurement{}, err
	}
	// Warm up (connections, the runtime's heap) before the ramp.
	g.Run(ctx, t, c.start, time.Second)
	m := measurement{server: name}
	rates := c.rates
	if rates == nil {
		peak, _ := g.Ramp(ctx, t, c.start, c.factor, c.limit, c.step, c.maxP99, func(r loadgen.Result) {
			fmt.Fprintf(os.Stderr, "  %-20s %s\n", name, r)
		})
		if peak == 0 {
			return measurement{}, errors.New("no ramp step was sustained")
		}
		m.peak = peak
		rates = []float64{0.8 * peak}
	}
	for _, rate := range rates {
		// Both servers export Prometheus metrics at /metrics.
		h, err := hold(ctx, g, c, cmd.Process.Pid, t, rate, "http://"+addr+"/metrics", profile, filepath.Base(dir))
		m.holds = append(m.holds, h)
		if err != nil {
			return m, err
		}
	}
	return m, ctx.Err()
}

// hold runs the generator at rate for c.hold and measures the server's CPU
// and garbage collections over that run.
func hold(ctx context.Context, g *loadgen.Generator, c config, pid int, t loadgen.Target, rate float64, metricsURL, profile, label string) (held, error) {
	var profDone chan error
	if profile != "" && c.profiles != "" {
		profDone = make(chan error, 1)
		out := filepath.Join(c.profiles, fmt.Sprintf("%s-%.0f.prof", label, rate))
		go func() { profDone <- fetchProfile(profile, c.hold, out) }()
	}
	g.KeepLatencies = c.latencyLog != ""
	defer func() { g.KeepLatencies = false }()
	gc0 := gcCount(g.Client, metricsURL)
	cpu0, gen0 := cpuTime(pid), cpuTime(os.Getpid())
	r := g.Run(ctx, t, rate, c.hold)
	cpu1, gen1 := cpuTime(pid), cpuTime(os.Getpid())
	gc1 := gcCount(g.Client, metricsURL)
	h := held{Result: r, gcs: -1}
	if gc0 >= 0 && gc1 >= gc0 {
		h.gcs = gc1 - gc0
	}
	if ok := r.Requests - r.Errors; ok > 0 && cpu1 > cpu0 {
		h.cpuPerOp = (cpu1 - cpu0) / time.Duration(ok)
		h.genPerOp = (gen1 - gen0) / time.Duration(r.Requests)
	}
	if profDone != nil {
		if err := <-profDone; err != nil {
			fmt.Fprintln(os.Stderr, "load: server profile:", err)
		}
	}
	if c.latencyLog != "" {
		if err := writeLatencies(filepath.Join(c.latencyLog, fmt.Sprintf("%s-%.0f.tsv", label, rate)), r); err != nil {
			return h, err
		}
		h.Latencies = nil
	}
	if r.Errors > 0 {
		return h, fmt.Errorf("%d requests failed at %.0f/s", r.Errors, rate)
	}
	return h, nil
}

// writeLatencies writes one line per request: when it was scheduled (ms
// from the start of the run) and its latency (µs; -1: failed).
func writeLatencies(path string, r loadgen.Result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("scheduled_ms\tlatency_us\n")
	for i, d := range r.Latencies {
		lat := int64(-1)
		if d >= 0 {
			lat = d.Microseconds()
		}
		fmt.Fprintf(&b, "%.3f\t%d\n", float64(time.Duration(i)*r.Interval)/float64(time.Millisecond), lat)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// gcCount reads go_gc_duration_seconds_count (the Go collector's count of
// finished collections; attest and OPA both export it) from a server's
// Prometheus endpoint; -1 when it cannot.
func gcCount(client *http.Client, url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return -1
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "go_gc_duration_seconds_count "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

// checkAnswer posts the review once and checks that the server denies it
// for the unpinned image and warns about the missing readiness probe: the
// same decision from both servers, or the comparison means nothing.
func checkAnswer(client *http.Client, name string, t loadgen.Target) error {
	resp, err := client.Post(t.URL, "application/json", bytes.NewReader(t.Body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Response *struct {
			Allowed  bool     `json:"allowed"`
			Warnings []string `json:"warnings"`
			Status   struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
		Result *json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if out.Result != nil { // OPA's data API wraps the document in "result"
		if err := json.Unmarshal(*out.Result, &out); err != nil {
			return fmt.Errorf("answer: %w", err)
		}
	}
	r := out.Response
	if resp.StatusCode != http.StatusOK || r == nil || r.Allowed || !strings.Contains(r.Status.Message, `uses an unpinned image`) ||
		len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "has no readiness probe") {
		return fmt.Errorf("%s does not answer as expected (status %d): %+v", name, resp.StatusCode, r)
	}
	return nil
}

// waitHealthy polls url until it answers 200, the process exits or the
// deadline passes.
func waitHealthy(ctx context.Context, url string, timeout time.Duration, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("server exited before it was ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s", url, timeout)
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// fetchProfile asks the server for a CPU profile of the next d (less a
// second, so it ends inside the run) and writes it to out.
func fetchProfile(url string, d time.Duration, out string) error {
	secs := max(1, int(d.Seconds())-1)
	resp, err := http.Get(fmt.Sprintf("%s?seconds=%d", url, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpuTime is the process's user+system CPU time from /proc (0 elsewhere).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}
