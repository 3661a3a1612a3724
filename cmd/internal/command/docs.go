package command

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// WriteMan writes the cvv(1) man page, generated from the command
// definitions (flags, usage, description, subcommands).
func WriteMan(w io.Writer) error {
	app := newApp(strings.NewReader(""), io.Discard, io.Discard)
	app.Description = manMarkdown(app.Description)
	man, err := app.ToManWithSection(1)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, man)
	return err
}

// manMarkdown turns help text into the markdown the man page is rendered
// from: the indented lines of a paragraph (tables, examples) become a
// preformatted block, and "<" is escaped elsewhere (it would start HTML).
func manMarkdown(text string) string {
	var out []string
	inBlock := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "   "):
			if !inBlock {
				out = append(out, "")
				inBlock = true
			}
			out = append(out, "    "+line)
		default:
			if inBlock && line != "" {
				out = append(out, "")
			}
			inBlock = false
			out = append(out, strings.ReplaceAll(line, "<", `\<`))
		}
	}
	return strings.Join(out, "\n")
}

// Shells are the shells WriteCompletion writes scripts for.
var Shells = []string{"bash", "zsh", "fish"}

// WriteCompletion writes the completion script for shell (bash, zsh or
// fish), generated from the command definitions: subcommands, flags, and
// the values of the flags that take one of a few words. Operands complete
// as file names.
func WriteCompletion(w io.Writer, shell string) error {
	app := newApp(strings.NewReader(""), io.Discard, io.Discard)
	switch shell {
	case "bash":
		return writeBash(w, app)
	case "zsh":
		return writeZsh(w, app)
	case "fish":
		return writeFish(w, app)
	}
	return fmt.Errorf("no completion for shell %q (want %s)", shell, strings.Join(Shells, ", "))
}

// flagWords are the values a flag can take when they are a short list.
var flagWords = map[string][]string{
	"mode":           {"transfer", "source", "full"},
	"hash":           {"xxh3", "xxh64", "xxh128", "md5", "sha1", "sha256"},
	"engine":         {"auto", "uring", "fallback"},
	"write":          {"auto", "direct", "buffered"},
	"hash-file":      {"sums", "xxh", "mhl", "sums,mhl", "sums,xxh,mhl"},
	"hash-file-dest": {"source", "dest", "both"},
}

// fileFlags take a file name.
var fileFlags = []string{"against", "report"}

// spelled returns the command-line spellings of a flag: --name, -n.
func spelled(f cli.Flag) []string {
	var out []string
	for _, n := range f.Names() {
		if len(n) == 1 {
			out = append(out, "-"+n)
		} else {
			out = append(out, "--"+n)
		}
	}
	return out
}

func takesArg(f cli.Flag) bool {
	v, ok := f.(cli.DocGenerationFlag)
	return ok && v.TakesValue()
}

// levels returns the flags of the top level (key "") and of each
// subcommand, with --help everywhere.
func levels(app *cli.App) (names []string, flags map[string][]cli.Flag) {
	flags = map[string][]cli.Flag{"": append(slices.Clone(app.Flags), cli.HelpFlag)}
	names = []string{""}
	for _, c := range app.Commands {
		names = append(names, c.Name)
		flags[c.Name] = append(slices.Clone(c.Flags), cli.HelpFlag)
	}
	return names, flags
}
