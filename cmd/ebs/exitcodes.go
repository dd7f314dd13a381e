package main

import (
	"errors"
	"fmt"
	"io"
)

// Exit codes, the same as the AWS CLI's (and so what scripts written for it
// expect). This is the only place they are defined.
const (
	// exitOK: the command succeeded.
	exitOK = 0
	// exitUsage: the command line could not be parsed: unknown command or
	// flag, missing required flag, bad shorthand or JSON, bad base64,
	// unreadable file:// or fileb:// path, bad --output or --query.
	exitUsage = 252
	// exitServiceError: the daemon answered with an AWS error
	// ("An error occurred (Code) when calling the Op operation: ...").
	exitServiceError = 254
	// exitFailure: anything else: the daemon cannot be reached, a response
	// cannot be read, output cannot be written.
	exitFailure = 255
)

// exitError attaches an exit code to an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf returns an error that exits with exitUsage.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// asFailure marks an error returned while running a command: it keeps the
// code of usage and service errors and gives every other error exitFailure.
// The root command passes the errors of every RunE through it (see
// markRunErrors); errors that never pass through it come from cobra's own
// parsing and so are usage errors (see exitCode).
func asFailure(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	var se *ServiceError
	if errors.As(err, &ee) || errors.As(err, &se) {
		return err
	}
	return &exitError{code: exitFailure, err: err}
}

// exitCode maps an error returned by the root command to the process exit
// code.
func exitCode(err error) int {
	var ee *exitError
	var se *ServiceError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &se):
		return exitServiceError
	case errors.As(err, &ee):
		return ee.code
	default:
		// Unknown command, unknown flag, bad flag syntax, extra arguments:
		// cobra and pflag reject these before any command runs.
		return exitUsage
	}
}

// reportError prints err to w the way the AWS CLI does and returns the exit
// code. A service error is exactly one line; a usage error points at the
// help of command (e.g. "ebs kms encrypt").
func reportError(w io.Writer, err error, command string) int {
	code := exitCode(err)
	if err == nil {
		return code
	}
	var se *ServiceError
	switch {
	case errors.As(err, &se):
		fmt.Fprintln(w, se.Error())
	case code == exitUsage:
		fmt.Fprintf(w, "ebs: error: %v\nSee '%s --help'.\n", err, command)
	default:
		fmt.Fprintln(w, err)
	}
	return code
}
