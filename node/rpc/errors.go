package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/auth"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

var errTooManyEnrolls = errors.New("入网申请过于频繁，请一分钟后再试")

// ConnectError is the one place where errors become connect codes.
func ConnectError(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	code := connect.CodeInternal
	switch {
	case errors.Is(err, store.ErrInvalidArgument),
		errors.Is(err, delegation.ErrInvalidCatalog),
		errors.Is(err, delegation.ErrInvalidDelegation),
		errors.Is(err, tiers.ErrBadUnitCode):
		code = connect.CodeInvalidArgument
	case errors.Is(err, store.ErrNotFound):
		code = connect.CodeNotFound
	case errors.Is(err, store.ErrFailedPrecondition), errors.Is(err, delegation.ErrDelegationConflict):
		code = connect.CodeFailedPrecondition
	case errors.Is(err, auth.ErrBadLogin), errors.Is(err, auth.ErrLocked), errors.Is(err, auth.ErrNoSession):
		code = connect.CodeUnauthenticated
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, auth.ErrDisabled), errors.Is(err, auth.ErrRevoked):
		code = connect.CodePermissionDenied
	case errors.Is(err, auth.ErrBadPassword):
		code = connect.CodeInvalidArgument
	case errors.Is(err, auth.ErrOTPRequired), errors.Is(err, auth.ErrPasswordChange), errors.Is(err, auth.ErrInsecureLogin),
		errors.Is(err, auth.ErrWrongUnit):
		code = connect.CodeFailedPrecondition
	case errors.Is(err, store.ErrBatchTooLarge):
		code = connect.CodeResourceExhausted
	case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrLeaderChanged), errors.Is(err, store.ErrLaterRelease),
		errors.Is(err, store.ErrHalfRestored):
		code = connect.CodeUnavailable
	case errors.Is(err, context.Canceled):
		code = connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		code = connect.CodeDeadlineExceeded
	}
	return connect.NewError(code, err)
}

var connectError = ConnectError
