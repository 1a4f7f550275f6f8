package engine

import (
	"context"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// input builds one object that serves every policy style at once:
// attest policies read resource/parameters/context, Gatekeeper-style ones
// read review/parameters, and conftest packages get input.resource moved
// to the top by a `with` in the query. The error findings are the
// instances whose match could not be decided (nil when there are none).
func (e *Engine) input(ctx context.Context, r *manifest.Resource, call Call) (ast.Value, []finding.Finding) {
	callCtx := e.context
	if call.Operation != "" || call.OldObject != nil {
		obj := e.context.Value.(ast.Object).Copy()
		if call.Operation != "" {
			obj.Insert(ast.StringTerm("operation"), ast.StringTerm(call.Operation))
		}
		if call.OldObject != nil {
			// On UPDATE, the object as it was (docs/serve.md): what an
			// attest policy checks a change against (immutable fields).
			obj.Insert(ast.StringTerm("oldObject"), ast.NewTerm(call.OldObject))
		}
		callCtx = ast.NewTerm(obj)
	}
	obj := ast.NewTerm(r.Value)
	var rev *ast.Term
	if e.review {
		rev = ast.NewTerm(review(r, call, obj))
	}
	items := [][2]*ast.Term{
		ast.Item(ast.StringTerm("resource"), obj),
		ast.Item(ast.StringTerm("parameters"), ast.ObjectTerm()),
		ast.Item(ast.StringTerm("context"), callCtx),
	}
	if rev != nil {
		items = append(items, ast.Item(ast.StringTerm("review"), rev))
	}
	var unmatched []finding.Finding
	if len(e.slots) > 0 {
		inputs := ast.NewObject()
		for _, sl := range e.slots {
			// The match runs in Go, before evaluation: Gatekeeper's match
			// needs the namespace's labels, which Rego does not see. An
			// instance that does not match, or whose match fails, gets an
			// empty input.
			if sl.instance && sl.match != nil {
				ok, err := sl.match(ctx, r, call.OldObject)
				if err != nil {
					f := e.errorFinding(r, e.c.policies[sl.policy], err)
					f.Constraint = sl.name
					unmatched = append(unmatched, f)
				}
				if !ok || err != nil {
					inputs.Insert(sl.key, ast.ObjectTerm())
					continue
				}
			}
			own := [][2]*ast.Term{
				ast.Item(ast.StringTerm("resource"), obj),
				ast.Item(ast.StringTerm("parameters"), sl.params),
				ast.Item(ast.StringTerm("context"), callCtx),
			}
			if rev != nil {
				own = append(own, ast.Item(ast.StringTerm("review"), rev))
			}
			if sl.instance {
				own = append(own, ast.Item(ast.StringTerm(matchedKey), ast.BooleanTerm(true)))
			}
			inputs.Insert(sl.key, ast.NewTerm(ast.NewObject(own...)))
		}
		items = append(items, ast.Item(ast.StringTerm(inputsKey), ast.NewTerm(inputs)))
	}
	return ast.NewObject(items...), unmatched
}

// review is Gatekeeper's input.review for an object under admission (or,
// in the CLI, as if it were being created).
func review(r *manifest.Resource, call Call, obj *ast.Term) ast.Object {
	group, version := splitAPIVersion(r.APIVersion)
	op := call.Operation
	if op == "" {
		op = "CREATE"
	}
	old := ast.NullTerm()
	if call.OldObject != nil {
		old = ast.NewTerm(call.OldObject)
	}
	user := ast.ObjectTerm()
	if call.UserInfo != nil {
		if v, err := ast.InterfaceToValue(call.UserInfo); err == nil {
			user = ast.NewTerm(v)
		}
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("object"), obj),
		ast.Item(ast.StringTerm("oldObject"), old),
		ast.Item(ast.StringTerm("kind"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("group"), ast.StringTerm(group)),
			ast.Item(ast.StringTerm("version"), ast.StringTerm(version)),
			ast.Item(ast.StringTerm("kind"), ast.StringTerm(r.Kind)),
		)),
		ast.Item(ast.StringTerm("name"), ast.StringTerm(r.Name)),
		ast.Item(ast.StringTerm("namespace"), ast.StringTerm(r.Namespace)),
		ast.Item(ast.StringTerm("operation"), ast.StringTerm(op)),
		ast.Item(ast.StringTerm("userInfo"), user),
	)
}

func splitAPIVersion(av string) (group, version string) {
	if i := strings.LastIndexByte(av, '/'); i >= 0 {
		return av[:i], av[i+1:]
	}
	return "", av
}
