//go:build !unix

// Command rusage needs Unix wait4 resource usage; on other systems it only
// reports that.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "rusage: needs a Unix system")
	os.Exit(1)
}
