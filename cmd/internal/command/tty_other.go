//go:build !linux

package command

import "io"

// isTerminal reports false off Linux: the plain progress line is used.
func isTerminal(w io.Writer) bool { return false }
