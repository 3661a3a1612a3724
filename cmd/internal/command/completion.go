package command

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// writeBash writes a bash completion function: flags after a dash, a
// flag's words after the flag, subcommands as the first word, files
// everywhere else.
func writeBash(w io.Writer, app *cli.App) error {
	var b strings.Builder
	b.WriteString("# bash completion for cvv, generated from its command definitions.\n")
	b.WriteString("_cvv() {\n")
	b.WriteString("\tlocal cur prev cmd i\n")
	b.WriteString("\tcur=${COMP_WORDS[COMP_CWORD]}\n")
	b.WriteString("\tprev=${COMP_WORDS[COMP_CWORD-1]}\n")
	b.WriteString("\tcmd=\n")
	b.WriteString("\tfor ((i = 1; i < COMP_CWORD; i++)); do\n")
	b.WriteString("\t\tcase ${COMP_WORDS[i]} in\n")
	var cmds []string
	for _, c := range app.Commands {
		cmds = append(cmds, c.Names()...)
	}
	fmt.Fprintf(&b, "\t\t%s) cmd=${COMP_WORDS[i]}; break ;;\n", strings.Join(cmds, "|"))
	b.WriteString("\t\tesac\n\tdone\n")
	names, flags := levels(app)
	b.WriteString("\tcase $cmd in\n")
	for _, name := range names {
		pattern := name
		if name == "" {
			pattern = "''"
		}
		fmt.Fprintf(&b, "\t%s)\n", pattern)
		writeBashLevel(&b, flags[name], name == "", cmds)
		b.WriteString("\t\t;;\n")
	}
	b.WriteString("\tesac\n}\n")
	b.WriteString("complete -o default -o bashdefault -F _cvv cvv\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeBashLevel(b *strings.Builder, flags []cli.Flag, top bool, cmds []string) {
	var all []string
	b.WriteString("\t\tcase $prev in\n")
	for _, f := range flags {
		sp := spelled(f)
		all = append(all, sp...)
		if !takesArg(f) {
			continue
		}
		words := flagWords[f.Names()[0]]
		switch {
		case words != nil:
			fmt.Fprintf(b, "\t\t%s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n", strings.Join(sp, "|"), strings.Join(words, " "))
		case slices.Contains(fileFlags, f.Names()[0]):
			fmt.Fprintf(b, "\t\t%s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", strings.Join(sp, "|"))
		default:
			fmt.Fprintf(b, "\t\t%s) COMPREPLY=(); return ;;\n", strings.Join(sp, "|"))
		}
	}
	b.WriteString("\t\tesac\n")
	fmt.Fprintf(b, "\t\tif [[ $cur == -* ]]; then COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return; fi\n", strings.Join(all, " "))
	if top {
		fmt.Fprintf(b, "\t\tCOMPREPLY=($(compgen -W '%s' -- \"$cur\") $(compgen -f -- \"$cur\"))\n", strings.Join(cmds, " "))
	} else {
		b.WriteString("\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n")
	}
}

// writeZsh writes a zsh completion function (_arguments specs) for the
// top level and each subcommand.
func writeZsh(w io.Writer, app *cli.App) error {
	var b strings.Builder
	b.WriteString("#compdef cvv\n# zsh completion for cvv, generated from its command definitions.\n\n")
	names, flags := levels(app)
	for _, name := range names {
		fn := "_cvv_top"
		if name != "" {
			fn = "_cvv_" + name
		}
		fmt.Fprintf(&b, "%s() {\n\tlocal state\n\t_arguments -s -S \\\n", fn)
		for _, f := range flags[name] {
			fmt.Fprintf(&b, "\t\t%s \\\n", zshSpec(f))
		}
		if name != "" {
			b.WriteString("\t\t'*:file:_files'\n}\n\n")
			continue
		}
		b.WriteString("\t\t'1: :->first' \\\n\t\t'*:file:_files'\n")
		b.WriteString("\tif [[ $state == first ]]; then\n\t\t_alternative 'commands:command:((")
		for _, c := range app.Commands {
			fmt.Fprintf(&b, "%s\\:%s ", c.Name, strings.ReplaceAll(zshQuote(c.Usage), " ", "\\ "))
		}
		b.WriteString("))' 'files:file:_files'\n\tfi\n}\n\n")
	}
	b.WriteString("_cvv() {\n\tlocal i\n\tfor ((i = 2; i < CURRENT; i++)); do\n\t\tcase $words[i] in\n")
	for _, c := range app.Commands {
		fmt.Fprintf(&b, "\t\t%s) words=(\"${(@)words[i,-1]}\"); (( CURRENT -= i - 1 )); _cvv_%s; return ;;\n", strings.Join(c.Names(), "|"), c.Name)
	}
	b.WriteString("\t\t-*) ;;\n\t\t*) break ;;\n\t\tesac\n\tdone\n\t_cvv_top\n}\n\n")
	// Autoloaded from fpath, the file is the body of _cvv: run it. Sourced,
	// register it.
	b.WriteString("if [[ $funcstack[1] == _cvv ]]; then\n\t_cvv \"$@\"\nelse\n\tcompdef _cvv cvv\nfi\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// zshSpec is one _arguments spec: '(-m --mode)'{-m,--mode}'[help]:MODE:(a b)'.
func zshSpec(f cli.Flag) string {
	sp := spelled(f)
	help := ""
	if d, ok := f.(cli.DocGenerationFlag); ok {
		help = d.GetUsage()
	}
	if i := strings.IndexAny(help, ":;("); i > 0 {
		help = strings.TrimSpace(help[:i])
	}
	spec := "[" + zshQuote(help) + "]"
	if takesArg(f) {
		name := f.Names()[0]
		switch {
		case flagWords[name] != nil:
			spec += ":" + name + ":(" + strings.Join(flagWords[name], " ") + ")"
		case slices.Contains(fileFlags, name):
			spec += ":" + name + ":_files"
		default:
			spec += ":" + name + ": "
		}
	}
	if len(sp) == 1 {
		return "'" + sp[0] + spec + "'"
	}
	return "'(" + strings.Join(sp, " ") + ")'{" + strings.Join(sp, ",") + "}'" + spec + "'"
}

// zshQuote makes s safe inside single quotes and brackets of a spec.
func zshQuote(s string) string {
	r := strings.NewReplacer("'", "", "[", "(", "]", ")", ":", " ", "`", "")
	return r.Replace(s)
}

// writeFish writes fish completions: subcommands as the first word, each
// level's flags with their words, files for the operands.
func writeFish(w io.Writer, app *cli.App) error {
	var b strings.Builder
	b.WriteString("# fish completion for cvv, generated from its command definitions.\n")
	var cmds []string
	for _, c := range app.Commands {
		cmds = append(cmds, c.Names()...)
	}
	none := "not __fish_seen_subcommand_from " + strings.Join(cmds, " ")
	for _, c := range app.Commands {
		fmt.Fprintf(&b, "complete -c cvv -n '%s' -a %s -d %s\n", none, c.Name, fishQuote(c.Usage))
	}
	names, flags := levels(app)
	for _, name := range names {
		cond := none
		if name != "" {
			cond = "__fish_seen_subcommand_from " + name
		}
		for _, f := range flags[name] {
			b.WriteString(fishLine(cond, f))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fishLine(cond string, f cli.Flag) string {
	var b strings.Builder
	fmt.Fprintf(&b, "complete -c cvv -n '%s'", cond)
	for _, n := range f.Names() {
		if len(n) == 1 {
			b.WriteString(" -s " + n)
		} else {
			b.WriteString(" -l " + n)
		}
	}
	if takesArg(f) {
		name := f.Names()[0]
		switch {
		case flagWords[name] != nil:
			b.WriteString(" -x -a " + fishQuote(strings.Join(flagWords[name], " ")))
		case slices.Contains(fileFlags, name):
			b.WriteString(" -r -F")
		default:
			b.WriteString(" -x")
		}
	}
	if d, ok := f.(cli.DocGenerationFlag); ok {
		b.WriteString(" -d " + fishQuote(strings.ReplaceAll(d.GetUsage(), "`", "")))
	}
	b.WriteString("\n")
	return b.String()
}

// fishQuote single-quotes s for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
