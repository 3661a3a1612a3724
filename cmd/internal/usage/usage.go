// Package usage is the command line's one kind of user error: a bad flag,
// argument or named input. Its message is shown alone on one line and the
// CLI maps it to exit status 2. The planner and the commands both report
// through it, so there is one type and one mapping.
//
// It must never depend on an engine or on the executor: it is a leaf.
package usage

import (
	"errors"
	"fmt"
)

// ErrUsage is wrapped by every usage error: a bad command line or bad
// input named on it.
var ErrUsage = errors.New("usage")

// Error is a bad command line. It wraps ErrUsage.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrUsage) hold.
func (e *Error) Unwrap() error { return ErrUsage }

// Errorf returns a usage error whose message is the formatted text alone.
func Errorf(format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...)}
}
