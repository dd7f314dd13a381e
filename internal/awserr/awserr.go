// Package awserr carries an AWS-style message alongside a sentinel error kind.
//
// Packages declare sentinel errors where a problem is found (for example
// kmsclient.ErrNotFound); they return them wrapped in an *Error that holds the
// exact message AWS would print. The API layer maps the sentinel to an AWS error
// code and HTTP status in one table and prints Message(err).
package awserr

import (
	"errors"
	"fmt"
)

// Error is a sentinel kind plus the message a user sees.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is match the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }

// New returns an *Error of the given kind with a formatted message.
func New(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Message returns the user-facing message of err: the message of the innermost
// *Error in its chain, or err.Error() when it has none.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
