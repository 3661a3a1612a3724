// Command gendoc writes cvv's man page and shell completion scripts,
// generated from the command definitions, into a directory:
//
//	DIR/man/man1/cvv.1
//	DIR/completion/cvv.bash, DIR/completion/_cvv (zsh), DIR/completion/cvv.fish
//
// make install and make release run it; it never touches anything else.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cvv-project/cvv/cmd/internal/command"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendoc DIR")
		os.Exit(2)
	}
	if err := generate(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}

// completionFiles are the conventional file names of each shell's script.
var completionFiles = map[string]string{"bash": "cvv.bash", "zsh": "_cvv", "fish": "cvv.fish"}

func generate(dir string) error {
	if err := write(filepath.Join(dir, "man", "man1", "cvv.1"), command.WriteMan); err != nil {
		return err
	}
	for _, sh := range command.Shells {
		gen := func(w io.Writer) error { return command.WriteCompletion(w, sh) }
		if err := write(filepath.Join(dir, "completion", completionFiles[sh]), gen); err != nil {
			return err
		}
	}
	return nil
}

func write(path string, gen func(io.Writer) error) error {
	var b bytes.Buffer
	if err := gen(&b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
