//go:build !linux

package enginetest

import "testing"

func testXattrs(t *testing.T, _ NewEngine) { t.Skip("cvv keeps extended attributes on Linux only") }
