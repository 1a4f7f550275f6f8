package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/print"

	"github.com/continuums/attest/internal/attestation"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
)

// DefaultTimeout bounds one resource's evaluation against every policy.
const DefaultTimeout = 5 * time.Second

// Engine holds compiled policies and prepared queries. It is safe for
// concurrent use: Evaluate may be called from many goroutines.
type Engine struct {
	c *compiled
	// Conftest-style policies read the manifest itself as their input, so
	// they get a query of their own evaluated with the manifest as the
	// input document (direct); the others share one query on attest's
	// input (wrapped). Giving conftest packages the manifest with `with
	// input as input.resource` instead cost a sixth of their evaluation.
	direct, wrapped   []int // policy indexes
	all               []int // every policy's index, for findings
	qDirect, qWrapped rego.PreparedEvalQuery
	perPol            []lazyQuery
	timeout           time.Duration
	verifier          attestation.Verifier
	context           *ast.Term
	debug             io.Writer
	onPanic           func(any, []byte)
	debugMu           sync.Mutex
	review            bool // a Gatekeeper-style policy is enabled: build input.review
	engine            string
	// slots are the policies and instances that get an input of their
	// own (their parameters; for instances, their match).
	slots []inputSlot
	store storage.Store
	first FirstPass
}

// inputSlot is one policy (or one instance of a policy) that reads its own
// parameters. Its input is built per resource beside the shared one,
// reusing the same resource and context terms, and the query switches to
// it with `with input as input.__attest_inputs[key]`: replacing the whole
// input costs nothing, where `with input.parameters as ...` made OPA copy
// the entire input, manifest included, for every policy and resource.
type inputSlot struct {
	key      *ast.Term
	params   *ast.Term
	instance bool
	match    func(ctx context.Context, r *manifest.Resource, old ast.Value) (bool, error)
	policy   int    // index in c.policies
	name     string // the instance's name
}

type lazyQuery struct {
	once sync.Once
	pq   rego.PreparedEvalQuery
	err  error
}

type options struct {
	timeout  time.Duration
	verifier attestation.Verifier
	context  map[string]any
	debug    io.Writer
	engine   string
	data     map[string]any
	first    FirstPass
	onPanic  func(any, []byte)
}

// FirstPass is a source of policies that must see every input before any
// is evaluated (Gatekeeper: data.inventory, namespace labels).
type FirstPass interface {
	NeedsFirstPass() bool
	// Observe is called once per resource, from many goroutines.
	Observe(r *manifest.Resource)
	// Data is the base document to evaluate with once every resource has
	// been observed (nil: none).
	Data() map[string]any
}

// WithFirstPass plugs in such a source; internal/check runs the pass.
func WithFirstPass(fp FirstPass) Option { return func(o *options) { o.first = fp } }

// Option configures New.
type Option func(*options)

// WithTimeout bounds each evaluation; a policy that runs longer yields an
// error finding for that resource and policy.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithVerifier plugs in the attestation store behind the library's
// attest.attestation_verified and attest.receipt_verified built-ins.
func WithVerifier(v attestation.Verifier) Option { return func(o *options) { o.verifier = v } }

// WithContext sets the static part of input.context (require_attestation,
// production_namespaces, compliance, mode).
func WithContext(c map[string]any) Option { return func(o *options) { o.context = c } }

// WithDebug writes which rules fired, on which resource, with what result,
// and the output of Rego print() calls.
func WithDebug(w io.Writer) Option { return func(o *options) { o.debug = w } }

// WithEngineName sets the engine label findings carry ("opa" by default).
func WithEngineName(name string) Option { return func(o *options) { o.engine = name } }

// dataConflicts lists the paths of data under ref that rules define too.
func dataConflicts(c *ast.Compiler, data map[string]any, ref ast.Ref) []finding.Error {
	var out []finding.Error
	for _, k := range slices.Sorted(maps.Keys(data)) {
		r := append(ref.Copy(), ast.StringTerm(k))
		if rules := c.GetRulesExact(r); len(rules) > 0 {
			loc := finding.Location{}
			if l := rules[0].Location; l != nil {
				loc = finding.Location{File: l.File, Line: l.Row, Column: l.Col}
			}
			out = append(out, finding.Error{Location: loc, Message: fmt.Sprintf("bundle data %s is also a rule: a bundle's data may not be where a rule is", r)})
			continue
		}
		if sub, ok := data[k].(map[string]any); ok {
			out = append(out, dataConflicts(c, sub, r)...)
		}
	}
	return out
}

// errDeadline is an evaluation cut short by its caller's deadline.
var errDeadline = errors.New("the deadline of the request passed before the policies were evaluated")

// WithPanicHandler is told of a panic in an evaluation (the value and the
// stack), which the engine turns into an error finding: a server logs it,
// as policy.debug may be off.
func WithPanicHandler(fn func(v any, stack []byte)) Option {
	return func(o *options) { o.onPanic = fn }
}

// WithData sets the base document under data (Gatekeeper's data.inventory).
// Policies are compiled under their own packages, so the keys here must not
// be package names; SetData replaces a key later.
func WithData(d map[string]any) Option { return func(o *options) { o.data = d } }

// New compiles the enabled policies of set once and prepares the query.
// Compile errors are returned as finding errors with file and line; the
// engine still works with the policies that did compile.
func New(ctx context.Context, set *policy.Set, opts ...Option) (*Engine, []finding.Error, error) {
	o := options{timeout: DefaultTimeout, verifier: attestation.NoStore{}, engine: "opa"}
	for _, opt := range opts {
		opt(&o)
	}
	c, err := compile(set, capabilities(nil), o.debug != nil)
	if err != nil {
		return nil, c.errs, err
	}
	ctxVal, err := ast.InterfaceToValue(withDefaults(o.context))
	if err != nil {
		return nil, c.errs, fmt.Errorf("engine context: %w", err)
	}
	// Bundle data at a path a rule defines would be hidden by the rule
	// without a word; OPA refuses such a bundle, and so does attest.
	c.errs = append(c.errs, dataConflicts(c.compiler, set.Data, ast.DefaultRootRef.Copy())...)
	e := &Engine{
		c:        c,
		timeout:  o.timeout,
		verifier: o.verifier,
		context:  ast.NewTerm(ctxVal),
		debug:    o.debug,
		onPanic:  o.onPanic,
		perPol:   make([]lazyQuery, len(c.policies)),
		engine:   o.engine,
		first:    o.first,
	}
	for i, p := range c.policies {
		if p.Style == policy.StyleGatekeeper {
			e.review = true
		}
		for k, in := range p.Instances {
			e.slots = append(e.slots, inputSlot{key: ast.StringTerm(instanceKey(i, k)),
				params: paramsTerm(in.Parameters), instance: true, match: in.Match, policy: i, name: in.Name})
		}
		if len(p.Instances) == 0 && p.Style != policy.StyleConftest && len(p.Parameters) > 0 {
			e.slots = append(e.slots, inputSlot{key: ast.StringTerm(policyKey(i)), params: paramsTerm(p.Parameters)})
		}
	}
	// The bundles' data files are the base document; what the caller
	// gives (Gatekeeper's inventory) goes over it.
	data := make(map[string]any, len(set.Data)+len(o.data))
	maps.Copy(data, set.Data)
	maps.Copy(data, o.data)
	o.data = data
	// The store is always there, so SetData can fill it after the engine is
	// built (the inventory comes from a first pass over the inputs).
	e.store = inmem.NewFromObjectWithOpts(o.data, inmem.OptRoundTripOnWrite(false))
	for i, p := range c.policies {
		e.all = append(e.all, i)
		if isDirect(p) {
			e.direct = append(e.direct, i)
		} else {
			e.wrapped = append(e.wrapped, i)
		}
	}
	// A group without policies is neither prepared nor evaluated.
	if len(e.direct) > 0 {
		if e.qDirect, err = e.prepare(ctx, e.query(e.direct, true)); err != nil {
			return nil, c.errs, fmt.Errorf("prepare query: %w", err)
		}
	}
	if len(e.wrapped) > 0 {
		if e.qWrapped, err = e.prepare(ctx, e.query(e.wrapped, false)); err != nil {
			return nil, c.errs, fmt.Errorf("prepare query: %w", err)
		}
	}
	return e, c.errs, nil
}

func withDefaults(c map[string]any) map[string]any {
	out := map[string]any{
		"mode":                  "cli",
		"operation":             "",
		"require_attestation":   false,
		"production_namespaces": []any{"production", "prod"},
		"compliance":            map[string]any{},
	}
	for k, v := range c {
		out[k] = v
	}
	return out
}

func (e *Engine) prepare(ctx context.Context, q ast.Body) (rego.PreparedEvalQuery, error) {
	opts := []func(*rego.Rego){
		rego.Compiler(e.c.compiler),
		rego.ParsedQuery(q),
		rego.StrictBuiltinErrors(false),
		rego.Store(e.store),
	}
	opts = append(opts, attestation.RegoOptions(e.verifier)...)
	if e.debug != nil {
		opts = append(opts, rego.EnablePrintStatements(true), rego.PrintHook(printHook{e}))
	}
	return rego.New(opts...).PrepareForEval(ctx)
}

// isDirect reports whether p reads the manifest itself as its input.
func isDirect(p *policy.Policy) bool {
	return p.Style == policy.StyleConftest && len(p.Instances) == 0
}

// query builds one expression per policy in only: __pN =
// data.<pkg>.__attest_findings, with the policy's own input. For direct
// policies the input document is the manifest and there is no `with`.
func (e *Engine) query(only []int, direct bool) ast.Body {
	var body ast.Body
	for _, i := range only {
		p := e.c.policies[i]
		if len(p.Instances) > 0 {
			body = append(body, instanceExprs(i, p)...)
			continue
		}
		var with []*ast.With
		if !direct {
			with = inputFor(i, p)
		}
		expr := ast.Equality.Expr(ast.VarTerm(string(policyVar(i))), ast.RefTerm(resultRef(p, collectRule)...))
		expr.With = with
		body = append(body, expr)
		if p.HasException && p.Style == policy.StyleConftest {
			x := ast.Equality.Expr(ast.VarTerm(string(exceptionVar(i))), ast.RefTerm(resultRef(p, "exception")...))
			x.With = with
			body = append(body, x)
		}
	}
	if len(body) == 0 {
		body = append(body, ast.NewExpr(ast.BooleanTerm(true)))
	}
	return body
}

// instanceExprs gives one expression per instance, each with its own
// input (its parameters), guarded by the match Go computed for the
// resource:
//
//	__p3_0 = {x | input.__attest_matched; data.<pkg>.__attest_findings[x]} with input as input.__attest_inputs["3_0"]
//
// A comprehension is always defined, so an instance that does not match
// costs one lookup and leaves the rest of the query alone.
func instanceExprs(i int, p *policy.Policy) []*ast.Expr {
	out := make([]*ast.Expr, 0, len(p.Instances))
	for k := range p.Instances {
		x := ast.VarTerm(fmt.Sprintf("__c%d_%d", i, k))
		guard := ast.NewExpr(ast.RefTerm(ast.InputRootDocument, ast.StringTerm(matchedKey)))
		collect := ast.NewExpr(ast.RefTerm(append(resultRef(p, collectRule), x)...))
		comp := ast.SetComprehensionTerm(x, ast.NewBody(guard, collect))
		expr := ast.Equality.Expr(ast.VarTerm(string(instanceVar(i, k))), comp)
		expr.With = switchInput(instanceKey(i, k))
		out = append(out, expr)
	}
	return out
}

const (
	// inputsKey holds the per-policy and per-instance inputs.
	inputsKey = "__attest_inputs"
	// matchedKey is true in an instance's input when it matches the resource.
	matchedKey = "__attest_matched"
)

func instanceKey(i, k int) string  { return fmt.Sprintf("%d_%d", i, k) }
func policyKey(i int) string       { return fmt.Sprintf("p%d", i) }
func instanceVar(i, k int) ast.Var { return ast.Var(fmt.Sprintf("__p%d_%d", i, k)) }

func switchInput(key string) []*ast.With {
	return []*ast.With{{Target: ast.NewTerm(ast.InputRootRef),
		Value: ast.RefTerm(ast.InputRootDocument, ast.StringTerm(inputsKey), ast.StringTerm(key))}}
}

func paramsTerm(params map[string]any) *ast.Term {
	if params == nil {
		return ast.ObjectTerm()
	}
	v, err := ast.InterfaceToValue(params)
	if err != nil {
		return ast.ObjectTerm()
	}
	return ast.NewTerm(v)
}

// NeedsFirstPass reports whether every input must be observed (Observe)
// before evaluation starts, and FirstPassDone called.
func (e *Engine) NeedsFirstPass() bool { return e.first != nil && e.first.NeedsFirstPass() }

// Observe hands one resource to the first pass.
func (e *Engine) Observe(r *manifest.Resource) {
	if e.first != nil {
		e.first.Observe(r)
	}
}

// FirstPassDone stores what the first pass built.
func (e *Engine) FirstPassDone(ctx context.Context) error {
	if e.first == nil {
		return nil
	}
	for k, v := range e.first.Data() {
		if err := e.SetData(ctx, k, v); err != nil {
			return fmt.Errorf("first pass: %w", err)
		}
	}
	return nil
}

// SetData replaces the base document data.<key> (the Gatekeeper inventory,
// built from a first pass over the inputs). Evaluations that start after
// it returns see the new value.
func (e *Engine) SetData(ctx context.Context, key string, value any) error {
	return storage.WriteOne(ctx, e.store, storage.AddOp, storage.Path{key}, value)
}

// inputFor gives each policy the input it expects: conftest packages the
// manifest itself; policies with parameters their own input.
func inputFor(i int, p *policy.Policy) []*ast.With {
	if p.Style == policy.StyleConftest {
		return []*ast.With{{Target: ast.NewTerm(ast.InputRootRef), Value: ast.RefTerm(ast.InputRootDocument, ast.StringTerm("resource"))}}
	}
	if len(p.Parameters) == 0 {
		return nil
	}
	return switchInput(policyKey(i))
}

// Rules returns the metadata of every rule that is evaluated.
func (e *Engine) Rules() []finding.Rule {
	out := make([]finding.Rule, 0, len(e.c.rules))
	for i, r := range e.c.rules {
		rule := r.Rule
		rule.Severity = e.c.policies[e.c.ruleOf[i]].SeverityOf(r, finding.SeverityUnknown)
		out = append(out, rule)
	}
	return out
}

// Policies returns the enabled, compiled policies.
func (e *Engine) Policies() []*policy.Policy { return e.c.policies }

// Call is the per-evaluation part of input.context.
type Call struct {
	Operation string // CREATE, UPDATE, DELETE; empty in the CLI
	OldObject ast.Value
	UserInfo  map[string]any
}

// Evaluate runs every enabled policy on one resource. It never fails as a
// whole: a policy that errors or times out gives an error finding for that
// resource and policy, and the other policies' findings are still returned.
func (e *Engine) Evaluate(ctx context.Context, r *manifest.Resource, call Call) []finding.Finding {
	// attest's input is built once, and only when a policy reads it.
	// Building it runs the instances' matches; one that cannot be decided
	// is an error finding of its policy (unmatched), added to what the
	// evaluation finds.
	var (
		wrapped   ast.Value
		unmatched []finding.Finding
	)
	inputOf := func(direct bool) ast.Value {
		if direct {
			return r.Value
		}
		if wrapped == nil {
			wrapped, unmatched = e.input(ctx, r, call)
		}
		return wrapped
	}
	var (
		b      rego.Vars
		failed []int // policies of a group whose query failed
	)
	for _, g := range []struct {
		pols   []int
		pq     rego.PreparedEvalQuery
		direct bool
	}{{e.wrapped, e.qWrapped, false}, {e.direct, e.qDirect, true}} {
		if len(g.pols) == 0 {
			continue
		}
		gb, err := e.eval(ctx, g.pq, inputOf(g.direct))
		switch {
		case err == nil && b == nil:
			b = gb
		case err == nil:
			maps.Copy(b, gb)
		case ctx.Err() != nil:
			cause := ctx.Err()
			if errors.Is(cause, context.DeadlineExceeded) {
				cause = errDeadline
			}
			return []finding.Finding{e.errorFinding(r, nil, cause)}
		default:
			failed = append(failed, g.pols...)
		}
	}
	if len(failed) == 0 {
		return append(e.findings(r, b, e.all), unmatched...)
	}
	// Something failed: evaluate that group policy by policy to find
	// which, so the others still report. Findings stay in policy order.
	var out []finding.Finding
	for i, p := range e.c.policies {
		if !slices.Contains(failed, i) {
			out = append(out, e.findings(r, b, []int{i})...)
			continue
		}
		pq, err := e.policyQuery(ctx, i)
		if err != nil {
			out = append(out, e.errorFinding(r, p, err))
			continue
		}
		pb, err := e.eval(ctx, pq, inputOf(isDirect(p)))
		if err != nil {
			out = append(out, e.errorFinding(r, p, err))
			continue
		}
		out = append(out, e.findings(r, pb, []int{i})...)
	}
	return append(out, unmatched...)
}

// eval runs one prepared query under the per-evaluation timeout and
// returns its bindings (nil when the query is undefined).
func (e *Engine) eval(ctx context.Context, pq rego.PreparedEvalQuery, input ast.Value) (b rego.Vars, err error) {
	// A panic in OPA or in a built-in (OPA's number comparison panics on
	// values it cannot parse) fails this evaluation, not the process or,
	// at admission, the connection: the caller then evaluates policy by
	// policy and reports the one that failed as an error finding.
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			e.debugf("evaluation panicked: %v\n%s", r, stack)
			if e.onPanic != nil {
				e.onPanic(r, stack)
			}
			b, err = nil, fmt.Errorf("internal error in the policy engine: %v", r)
		}
	}()
	ectx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	// Without a cancel of its own, OPA starts a goroutine per evaluation
	// that waits on the context; under admission load that is a goroutine
	// and two scheduler hand-offs per request. context.AfterFunc watches
	// the same context without one.
	c := topdown.NewCancel()
	defer context.AfterFunc(ectx, c.Cancel)()
	// Without metrics of its own, OPA makes a fresh set (maps and timers)
	// for every evaluation, which nothing here reads.
	rs, err := pq.Eval(ectx, rego.EvalParsedInput(input), rego.EvalExternalCancel(c), rego.EvalMetrics(metrics.NoOp()))
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			// The caller's deadline (the request's), not this policy's.
			err = errDeadline
		case errors.Is(ectx.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("evaluation timed out after %s", e.timeout)
		}
		return nil, err
	}
	if len(rs) == 0 {
		return nil, nil
	}
	return rs[0].Bindings, nil
}

func (e *Engine) policyQuery(ctx context.Context, i int) (rego.PreparedEvalQuery, error) {
	lq := &e.perPol[i]
	lq.once.Do(func() { lq.pq, lq.err = e.prepare(ctx, e.query([]int{i}, isDirect(e.c.policies[i]))) })
	return lq.pq, lq.err
}

func (e *Engine) errorFinding(r *manifest.Resource, p *policy.Policy, err error) finding.Finding {
	f := finding.Finding{
		Engine:      e.engine,
		Kind:        finding.KindError,
		Severity:    finding.SeverityHigh,
		Enforcement: finding.EnforcementStrict,
		Message:     "policy evaluation failed: " + err.Error(),
		Resource:    r.Ref(),
		Location:    r.Location,
	}
	if p != nil {
		if p.Engine != "" {
			f.Engine = p.Engine
		}
		f.Policy = p.Name
		f.Rule = p.Name + "/evaluation-error"
		f.Enforcement = p.Enforcement
	}
	return f
}

type printHook struct{ e *Engine }

func (h printHook) Print(pctx print.Context, msg string) error {
	loc := "?"
	if pctx.Location != nil {
		loc = fmt.Sprintf("%s:%d", pctx.Location.File, pctx.Location.Row)
	}
	h.e.debugf("print %s: %s", loc, msg)
	return nil
}

func (e *Engine) debugf(format string, args ...any) {
	if e.debug == nil {
		return
	}
	e.debugMu.Lock()
	defer e.debugMu.Unlock()
	fmt.Fprintf(e.debug, format+"\n", args...)
}
