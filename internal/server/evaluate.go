package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/continuums/attest/internal/check"
	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/report"
)

// timedEvaluator measures each resource's evaluation for the histogram.
type timedEvaluator struct {
	e       *engine.Engine
	s       *Server
	engines []string
}

func (t timedEvaluator) Evaluate(ctx context.Context, r *manifest.Resource, call engine.Call) []finding.Finding {
	start := time.Now()
	fs := t.e.Evaluate(ctx, r, call)
	t.s.observeEval(t.engines, time.Since(start))
	return fs
}

// handleEvaluate answers exactly what `attest policy check - --format
// json` prints for the same manifests: the body is read as stdin is, and
// the run is check.Run's. ?strict=true makes warnings fail as --strict
// does. The verdict is in the report (summary.passed) and in the
// X-Attest-Exit-Code header; the HTTP status is 200 whatever it is.
func (s *Server) handleEvaluate(w http.ResponseWriter, r *http.Request) {
	snap := s.state.Load()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, errNotReady)
		return
	}
	strict := false
	if v := r.URL.Query().Get("strict"); v != "" {
		var err error
		if strict, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("strict=%q: want true or false", v))
			return
		}
	}
	// At most evaluateQueue requests hold a body (2 MiB each at most);
	// more are told to come back at once. The body is read before the
	// one evaluation slot is taken, so a slow upload holds a place in the
	// queue, not the slot, and its reading does not count against the
	// evaluation's deadline.
	select {
	case s.evalQueue <- struct{}{}:
		defer func() { <-s.evalQueue }()
	default:
		busy(w)
		return
	}
	body, code, err := readBody(w, r, s.o.evalLimit)
	if err != nil {
		writeError(w, code, err)
		return
	}
	// One evaluation at a time; a request that cannot start within the
	// deadline is told to come back.
	wait, stopWait := context.WithTimeout(r.Context(), s.o.evalTimeout)
	select {
	case s.evaluating <- struct{}{}:
		stopWait()
		defer func() { <-s.evaluating }()
	case <-wait.Done():
		stopWait()
		busy(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.evalTimeout)
	defer cancel()
	p := snap.Project
	// A loader of its own reads the body as stdin; every other setting is
	// the defaults the project's loader has too.
	loader := manifest.NewLoader(manifest.WithStdin(bytes.NewReader(body)), manifest.WithMaxFileSize(s.o.evalLimit))
	res := check.Run(ctx, loader, timedEvaluator{p.Engine, s, snap.engines}, []string{"-"}, check.WithParallel(1), check.WithExempter(p.Exempter))
	res.Notes = append(append([]finding.Note(nil), p.Notes...), res.Notes...)
	res.Rules = p.Engine.Rules()
	res.Sort()
	s.metrics.RecordResult(snap.policies, res)
	dopts := decision.Options{Strict: strict, Threshold: p.Threshold, FailOnViolation: p.FailOnViolation}
	exit := decision.Decide(res, dopts)
	rep, err := report.New(report.FormatJSON, report.WithToolVersion(s.o.version),
		report.WithFailFunc(func(f *finding.Finding) bool { return decision.Fails(f, dopts) }))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	var buf bytes.Buffer
	if err := rep.Report(&buf, res); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Attest-Exit-Code", strconv.Itoa(exit))
	_, _ = w.Write(buf.Bytes())
}

// busy answers a /v1/evaluate that cannot be taken now.
func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, errors.New("busy: other /v1/evaluate requests are running; try again"))
}
