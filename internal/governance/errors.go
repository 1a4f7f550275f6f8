package governance

import "fmt"

// The workflow's refusals are typed so that a caller can tell them apart
// without reading messages: the server answers 400, 403 and 409 with
// them, the command line prints them alike. Their messages are the ones
// the command line has always printed.

// InvalidError is a request that does not hold together (no reason, a
// duration that does not parse, an unknown policy, ...): nothing written.
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string { return e.msg }

// DeniedError is a change the actor may not make (approving their own
// request, not among the approvers, not in an approving team, overrides
// disabled): nothing written.
type DeniedError struct{ msg string }

func (e *DeniedError) Error() string { return e.msg }

// StateError is a change the exemption's status does not allow (approving
// a rejected request, revoking an expired one): nothing written.
type StateError struct{ msg string }

func (e *StateError) Error() string { return e.msg }

func denied(format string, args ...any) error {
	return &DeniedError{msg: fmt.Sprintf(format, args...)}
}

func stateError(format string, args ...any) error {
	return &StateError{msg: fmt.Sprintf(format, args...)}
}
