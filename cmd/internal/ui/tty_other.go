//go:build !linux

package ui

import "io"

// IsTerminal reports false off Linux: the plain progress line is used.
func IsTerminal(w io.Writer) bool { return false }

// HasWidth reports false off Linux.
func HasWidth(w io.Writer) bool { return false }
