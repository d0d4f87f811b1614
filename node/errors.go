package node

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/tiers"
)

// Errors of this package. Callers test with errors.Is; every error that
// reaches a person names the field at fault (see FieldError).
var (
	// ErrInvalidArgument: the request itself is malformed (bad identity
	// number, out-of-range score, oversized field, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: an application or matter that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrFailedPrecondition: well-formed, but not allowed in the record's
	// current state (invalid transition, not the holder, materials missing).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrClosed: the store is shutting down, or (at a county group
	// member) the group has no leader to take a write or confirm a read.
	ErrClosed = errors.New("store closed")
	// ErrLeaderChanged: a county group's leader lost its leadership while
	// a write was on its way to commit. The write may yet be committed by
	// the next leader, or may be lost: a client asks again under the same
	// idempotency key, which applies it at most once.
	ErrLeaderChanged = errors.New("leader changed during the write")
	// ErrCorrupt: the store's data does not agree with itself.
	ErrCorrupt = errors.New("store corrupt")
	// ErrBatchTooLarge: one command would write more than a transaction
	// holds (a sync batch too big for this node); send less at a time.
	ErrBatchTooLarge = errors.New("batch too large for one transaction")
	// ErrLaterRelease: a county member met a command of a later release
	// in the group's log and stopped applying it (see FSM.ApplyBatch);
	// the write is in the log, and members of that release apply it.
	ErrLaterRelease = errors.New("log entry of a later release")
	// ErrHalfRestored: a county member could not load a snapshot whole
	// and stopped (see FSM.Restore); restarted, it clears its store and
	// loads the snapshot again.
	ErrHalfRestored = errors.New("snapshot loaded part way")
)

// FieldError is an error about one field of a request or record. Its text is
// "field: reason", the reason in Chinese for the people who read it.
type FieldError struct {
	Field  string
	Reason string
	Kind   error // one of the sentinels above
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidArgument) and friends work.
func (e *FieldError) Unwrap() error { return e.Kind }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Kind: ErrInvalidArgument}
}

func notFound(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Kind: ErrNotFound}
}

func precondition(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Kind: ErrFailedPrecondition}
}

// connectError is the one place where errors become connect codes.
func connectError(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	code := connect.CodeInternal
	switch {
	case errors.Is(err, ErrInvalidArgument),
		errors.Is(err, delegation.ErrInvalidCatalog),
		errors.Is(err, delegation.ErrInvalidDelegation),
		errors.Is(err, tiers.ErrBadUnitCode):
		code = connect.CodeInvalidArgument
	case errors.Is(err, ErrNotFound):
		code = connect.CodeNotFound
	case errors.Is(err, ErrFailedPrecondition), errors.Is(err, delegation.ErrDelegationConflict):
		code = connect.CodeFailedPrecondition
	case errors.Is(err, ErrBatchTooLarge):
		code = connect.CodeResourceExhausted
	case errors.Is(err, ErrClosed), errors.Is(err, ErrLeaderChanged), errors.Is(err, ErrLaterRelease),
		errors.Is(err, ErrHalfRestored):
		code = connect.CodeUnavailable
	case errors.Is(err, context.Canceled):
		code = connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		code = connect.CodeDeadlineExceeded
	}
	return connect.NewError(code, err)
}

func asFieldError(err error, target **FieldError) bool { return errors.As(err, target) }
