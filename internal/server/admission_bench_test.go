package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/project"
)

// benchServer is a server with the bench/ policies (the ten
// conftest-style rules bench/load runs against OPA), loaded but not
// listening: the benchmarks call its handler directly.
func benchServer(b testing.TB, opts ...Option) (*Server, []byte) {
	return benchServerWith(b, false, opts...)
}

// benchServerWith is benchServer, with the built-in library (66 rules)
// instead of the bench/ policies when library is true: what a cluster
// running deploy/ evaluates.
func benchServerWith(b testing.TB, library bool, opts ...Option) (*Server, []byte) {
	b.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "bench", "load", "review.json"))
	if err != nil {
		b.Fatal(err)
	}
	pol, err := filepath.Abs(filepath.Join("..", "..", "bench", "policies"))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	po := project.Options{Dir: dir, GlobalFile: filepath.Join(dir, "none.yaml"), PolicyPaths: []string{pol},
		NoBuiltin: true, Env: func(string) string { return "" }}
	if library {
		po.PolicyPaths, po.NoBuiltin = nil, false
	}
	src, err := NewSource(po)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	s, err := New(append([]Option{WithLoader(src.Load), WithPollInterval(0)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Reload(context.Background(), true); err != nil {
		b.Fatal(err)
	}
	return s, body
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler and not a recorder's buffer.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkAdmission is the admission path on the bench/load review (a
// 2-container Deployment, one denying and one warning finding):
//
//   - handler: POST /v1/admission as the mux serves it (decode, manifest,
//     engine, exemptions, decision, metrics, encode);
//   - handler+decisionlog: the same with the decision log on (to a
//     discarding writer: the cost of building the record, not of a disk);
//   - decode: decodeAdmission alone (the review to OPA values);
//   - engine: the baseline, engine.Evaluate alone on the resource already
//     decoded. handler minus engine is what the server adds.
func BenchmarkAdmission(b *testing.B) {
	run := func(b *testing.B, s *Server, body []byte) {
		h := s.Handler()
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/v1/admission", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			clear(w.h)
			w.code = 0
			h.ServeHTTP(w, r)
			if w.code != 0 && w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	}
	b.Run("handler", func(b *testing.B) {
		s, body := benchServer(b)
		run(b, s, body)
	})
	b.Run("handler+library", func(b *testing.B) {
		s, body := benchServerWith(b, true)
		run(b, s, body)
	})
	b.Run("handler+decisionlog", func(b *testing.B) {
		s, body := benchServer(b, WithDecisionLog(io.Discard))
		run(b, s, body)
	})
	b.Run("decode", func(b *testing.B) {
		s, body := benchServer(b)
		depth := s.maxDepth(s.Snapshot())
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := decodeAdmission(body, depth); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("engine", func(b *testing.B) {
		s, body := benchServer(b)
		snap := s.Snapshot()
		req, err := decodeAdmission(body, s.maxDepth(snap))
		if err != nil {
			b.Fatal(err)
		}
		res, err := s.resource(req, req.object)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		call := engine.Call{Operation: "CREATE", UserInfo: userInfo(req)}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if fs := snap.Project.Engine.Evaluate(ctx, res, call); len(fs) != 2 {
				b.Fatalf("%d findings, want 2", len(fs))
			}
		}
	})
}
