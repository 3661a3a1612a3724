// Command cvv copies a file or a directory tree to one or more destinations
// at once, reading the source once, hashing in flight and verifying the
// copies. See the README for the flags.
package main

import (
	"context"
	"os"

	"github.com/cvv-project/cvv/cmd/internal/command"
)

func main() {
	os.Exit(command.Run(context.Background(), os.Args))
}
