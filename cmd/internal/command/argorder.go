package command

import (
	"slices"
	"strings"

	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/urfave/cli/v2"
)

// reorderArgs moves the flags that follow operands in front of them, as GNU
// cp and rsync accept "cvv SRC DST -m transfer": urfave/cli stops parsing
// flags at the first operand. A flag that takes a value keeps the token after
// it. "--" ends the flags: it and everything after it stay where they are.
// The first operand that names a subcommand starts that command's arguments,
// which are reordered with its own flags. args[0] is the program name.
//
// A flag that needs a value but ends the line is a usage error here: left
// where it is, the parser would stop at the first operand and take it for a
// destination.
func reorderArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	rest, err := reorderLevel(app.Flags, app.Commands, args[1:])
	if err != nil {
		return nil, err
	}
	return append([]string{args[0]}, rest...), nil
}

// reorderLevel reorders the arguments of one command level: flags first,
// then the operands, then "--" and what follows it.
func reorderLevel(flags []cli.Flag, cmds []*cli.Command, args []string) ([]string, error) {
	valued := valueFlags(flags)
	var lead, operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return slices.Concat(lead, operands, args[i:]), nil
		case len(a) > 1 && a[0] == '-':
			if !takesValue(a, valued) {
				lead = append(lead, a)
				break
			}
			if i+1 == len(args) {
				return nil, usage.Errorf("flag needs an argument: %s (see cvv --help)", a)
			}
			lead = append(lead, a, args[i+1])
			i++
		default:
			if len(operands) == 0 {
				if sub := findCommand(cmds, a); sub != nil {
					rest, err := reorderLevel(sub.Flags, sub.Subcommands, args[i+1:])
					return slices.Concat(lead, []string{a}, rest), err
				}
			}
			operands = append(operands, a)
		}
	}
	return append(lead, operands...), nil
}

// valueFlags returns the names (without dashes) of the flags that take a
// value.
func valueFlags(flags []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		if v, ok := f.(cli.DocGenerationFlag); ok && v.TakesValue() {
			for _, n := range f.Names() {
				m[n] = true
			}
		}
	}
	return m
}

// takesValue reports whether the flag token a consumes the next argument:
// "--name" or "-n" of a flag with a value (not "--name=value"), or a bundle
// of short flags ("-qj") whose last one takes a value.
func takesValue(a string, valued map[string]bool) bool {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return false
	}
	if valued[name] {
		return true
	}
	if strings.HasPrefix(a, "--") || len(name) < 2 {
		return false
	}
	return valued[name[len(name)-1:]]
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
