// Package check runs the pipeline for a set of inputs: load each file,
// evaluate its resources, apply exemptions, and gather one deterministic
// Result. Files are streamed: a file's resources are dropped as soon as it
// is evaluated, so memory stays flat however large the corpus.
package check

import (
	"context"
	"runtime"
	"slices"
	"sync"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// Evaluator is the engine's evaluation door.
type Evaluator interface {
	Evaluate(ctx context.Context, r *manifest.Resource, call engine.Call) []finding.Finding
}

// FirstPass is implemented by evaluators that must see every resource
// before evaluating any (Gatekeeper's data.inventory, namespace labels).
type FirstPass interface {
	NeedsFirstPass() bool
	Observe(r *manifest.Resource)
	FirstPassDone(ctx context.Context) error
}

// Exempter marks findings covered by exemptions (internal/exemption).
type Exempter interface {
	Apply(r *manifest.Resource, findings []finding.Finding) (notes []finding.Note, expired []finding.Exemption)
}

// ResourceHook sees every resource after evaluation (strict schema
// validation in `policy validate`, inventories). It must be safe for
// concurrent use.
type ResourceHook func(r *manifest.Resource) ([]finding.Error, []finding.Note)

type options struct {
	parallel int
	exempter Exempter
	progress func(done int)
	hook     ResourceHook
	skipEval bool
	skip     func(*manifest.Resource) bool
}

// Option configures Run.
type Option func(*options)

// WithParallel sets the number of files worked on at once (0: GOMAXPROCS).
func WithParallel(n int) Option { return func(o *options) { o.parallel = n } }

// WithExempter applies exemptions to each resource's findings.
func WithExempter(e Exempter) Option { return func(o *options) { o.exempter = e } }

// WithProgress is called once per finished file.
func WithProgress(fn func(done int)) Option { return func(o *options) { o.progress = fn } }

// WithResourceHook runs fn on every resource.
func WithResourceHook(fn ResourceHook) Option { return func(o *options) { o.hook = fn } }

// WithSkip leaves out the resources fn returns true for: they are neither
// counted, observed by a first pass, nor evaluated (gator-style runs skip
// the ConstraintTemplates and Constraints among their inputs).
func WithSkip(fn func(*manifest.Resource) bool) Option { return func(o *options) { o.skip = fn } }

// WithoutEvaluation only loads (and hooks) the resources: `policy validate`.
func WithoutEvaluation() Option { return func(o *options) { o.skipEval = true } }

// Run checks files (already discovered) and returns the Result, sorted. It
// does not decide the verdict: see internal/decision.
func Run(ctx context.Context, loader *manifest.Loader, eval Evaluator, files []string, opts ...Option) *finding.Result {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.parallel <= 0 {
		o.parallel = runtime.GOMAXPROCS(0)
	}
	type slot struct {
		findings  []finding.Finding
		notes     []finding.Note
		errors    []finding.Error
		expired   []finding.Exemption
		checked   []finding.Checked
		resources int
	}
	var firstErrs []finding.Error
	if fp, ok := eval.(FirstPass); ok && !o.skipEval && fp.NeedsFirstPass() {
		firstErrs = firstPass(ctx, loader, fp, files, o.parallel, o.skip)
	}
	slots := make([]slot, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < min(o.parallel, max(len(files), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := &slots[i]
				f := loader.LoadFile(ctx, files[i])
				s.notes = append(s.notes, f.Notes...)
				s.errors = append(s.errors, f.Errors...)
				for _, r := range f.Resources {
					if o.skip != nil && o.skip(r) {
						continue
					}
					s.resources++
					if ctx.Err() != nil {
						break
					}
					if o.hook != nil {
						errs, notes := o.hook(r)
						s.errors = append(s.errors, errs...)
						s.notes = append(s.notes, notes...)
					}
					if o.skipEval || eval == nil {
						continue
					}
					s.checked = append(s.checked, finding.Checked{Resource: r.Ref(), Location: r.Location})
					fs := eval.Evaluate(ctx, r, engine.Call{})
					if o.exempter != nil {
						notes, expired := o.exempter.Apply(r, fs)
						s.notes = append(s.notes, notes...)
						s.expired = append(s.expired, expired...)
					}
					s.findings = append(s.findings, fs...)
				}
				if o.progress != nil {
					mu.Lock()
					done++
					n := done
					mu.Unlock()
					o.progress(n)
				}
			}
		}()
	}
feed:
	for i := range files {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	res := &finding.Result{Files: slices.Clone(files), Errors: firstErrs}
	for _, s := range slots {
		res.Findings = append(res.Findings, s.findings...)
		res.Notes = append(res.Notes, s.notes...)
		res.Errors = append(res.Errors, s.errors...)
		res.Expired = append(res.Expired, s.expired...)
		res.Checked = append(res.Checked, s.checked...)
		res.Resources += s.resources
	}
	if err := ctx.Err(); err != nil {
		res.Errors = append(res.Errors, finding.Error{Message: "run interrupted: " + err.Error()})
	}
	res.Expired = dedupeExpired(res.Expired)
	res.Sort()
	return res
}

// firstPass loads every file once more, before evaluation, so policies
// that read the whole input set (Gatekeeper's data.inventory) see all of
// it. Only runs when a policy needs it; load errors are reported by the
// second pass. Standard input cannot be read twice and is left out of it.
func firstPass(ctx context.Context, loader *manifest.Loader, fp FirstPass, files []string, parallel int, skip func(*manifest.Resource) bool) []finding.Error {
	next := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < min(parallel, max(len(files), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range next {
				for _, r := range loader.LoadFile(ctx, path).Resources {
					if skip == nil || !skip(r) {
						fp.Observe(r)
					}
				}
			}
		}()
	}
feed:
	for _, f := range files {
		if f == "-" {
			continue
		}
		select {
		case next <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := fp.FirstPassDone(ctx); err != nil {
		return []finding.Error{{Message: err.Error()}}
	}
	return nil
}

func dedupeExpired(list []finding.Exemption) []finding.Exemption {
	seen := map[string]bool{}
	var out []finding.Exemption
	for _, e := range list {
		key := e.Source + "\x00" + e.ID + "\x00" + e.Reason + "\x00" + e.ApprovedBy
		if e.ExpiresAt != nil {
			key += e.ExpiresAt.String()
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	return out
}
