package identity

import (
	"errors"
	"fmt"
)

// Error is a refused change or lookup, with the IAM error code and HTTP status IAM
// answers it with.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is matches errors of the same code, so that errors.Is(err, ErrNoSuchEntity) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The IAM errors, for errors.Is; the errors returned carry a message of their own.
var (
	ErrNoSuchEntity    = &Error{Code: "NoSuchEntity", Status: 404}
	ErrEntityExists    = &Error{Code: "EntityAlreadyExists", Status: 409}
	ErrMalformedPolicy = &Error{Code: "MalformedPolicyDocument", Status: 400}
	ErrLimitExceeded   = &Error{Code: "LimitExceeded", Status: 409}
	ErrDeleteConflict  = &Error{Code: "DeleteConflict", Status: 409}
	ErrValidation      = &Error{Code: "ValidationError", Status: 400}
	ErrInvalidInput    = &Error{Code: "InvalidInput", Status: 400}
	// ErrUnavailable: the identities could not be read from the store yet.
	ErrUnavailable = &Error{Code: "ServiceUnavailable", Status: 503,
		Message: "The identities cannot be read now (the drives that hold them are below read quorum); try again."}
	errConcurrentChanges = errors.New("identity: the store changed under the update")
)

func newErr(kind *Error, format string, args ...any) *Error {
	return &Error{Code: kind.Code, Status: kind.Status, Message: fmt.Sprintf(format, args...)}
}
