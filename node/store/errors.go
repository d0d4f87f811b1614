package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
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

// Invalid is an ErrInvalidArgument about a field.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, clipQuoted(format, args)...), Kind: ErrInvalidArgument}
}

// NotFound is an ErrNotFound about a field.
func NotFound(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, clipQuoted(format, args)...), Kind: ErrNotFound}
}

// Precondition is an ErrFailedPrecondition about a field.
func Precondition(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, clipQuoted(format, args)...), Kind: ErrFailedPrecondition}
}

var (
	invalid      = Invalid
	notFound     = NotFound
	precondition = Precondition
)

// maxEcho is how many characters of a value an error quotes back.
const maxEcho = 40

// clipQuoted shortens the values a message quotes (%q), which are what a
// caller sent: an error never echoes a long value back whole.
func clipQuoted(format string, args []any) []any {
	var out []any
	arg := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0123456789.", format[i]) >= 0 {
			i++
		}
		if i >= len(format) || format[i] == '%' {
			continue
		}
		if format[i] == 'q' && arg < len(args) {
			if v, ok := args[arg].(string); ok && utf8.RuneCountInString(v) > maxEcho {
				if out == nil {
					out = append([]any(nil), args...)
				}
				r := []rune(v)
				out[arg] = fmt.Sprintf("%s…（共 %d 字）", string(r[:maxEcho-8]), len(r))
			}
		}
		arg++
	}
	if out == nil {
		return args
	}
	return out
}
