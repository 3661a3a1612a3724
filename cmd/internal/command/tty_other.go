//go:build !linux

package command

import "io"

// isTerminal reports false off Linux: the plain progress line is used.
func isTerminal(w io.Writer) bool { return false }

// hasWidth reports false off Linux.
func hasWidth(w io.Writer) bool { return false }
