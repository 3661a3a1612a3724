package command

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/usage"
)

// excludeFlags are --exclude and --no-default-excludes, shared by the copy,
// verify and hash commands.
func excludeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "exclude", Usage: "leave out what `PATTERN` matches (gitignore style: *.tmp, /top.txt, cache/, **/proxy/**, !keep.tmp; repeatable), recorded in ASC MHL ignore lists"},
		&cli.BoolFlag{Name: "no-default-excludes", Usage: "also take the operating-system junk left out by default (" + strings.Join(plan.DefaultExcludes, " ") + ")"},
	}
}

// parseExcludes reads --exclude and --no-default-excludes: the default
// list first, so that "!Thumbs.db" can take a file back.
func parseExcludes(c *cli.Context) (*plan.Excludes, error) {
	var patterns []string
	if !c.Bool("no-default-excludes") {
		patterns = append(patterns, plan.DefaultExcludes...)
	}
	patterns = append(patterns, c.StringSlice("exclude")...)
	ex, err := plan.NewExcludes(patterns)
	if err != nil {
		return nil, usage.Errorf("%s", err)
	}
	return ex, nil
}
