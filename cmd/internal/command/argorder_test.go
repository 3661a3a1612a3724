package command

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/cmd/internal/usage"
)

func TestReorderArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cvv src dst", "cvv src dst"},
		{"cvv src dst -m transfer", "cvv -m transfer src dst"},
		{"cvv src -q dst --hash=md5 -j 8", "cvv -q --hash=md5 -j 8 src dst"},
		{"cvv src dst --mode transfer --json", "cvv --mode transfer --json src dst"},
		// A flag's value is never taken for an operand, even when it looks
		// like a command or a flag.
		{"cvv src --hash-file verify dst", "cvv --hash-file verify src dst"},
		{"cvv src dst --block-size -1", "cvv --block-size -1 src dst"},
		// A bundle of short flags whose last one takes a value.
		{"cvv src dst -qj 4", "cvv -qj 4 src dst"},
		{"cvv src dst -qm4", "cvv -qm4 src dst"},
		// "--" ends the flags.
		{"cvv -q -- src -m dst", "cvv -q -- src -m dst"},
		{"cvv src -- -m dst", "cvv src -- -m dst"},
		{"cvv src -j 2 -- -m dst", "cvv -j 2 src -- -m dst"},
		// Subcommands reorder with their own flags.
		{"cvv verify dst --against dst/x.md5 -j 2", "cvv verify --against dst/x.md5 -j 2 dst"},
		{"cvv -q verify dst --no-record", "cvv -q verify --no-record dst"},
		{"cvv hash a b --hash sha256 --tag", "cvv hash --hash sha256 --tag a b"},
		// Only the first operand names a command.
		{"cvv src verify -q", "cvv -q src verify"},
		{"cvv", "cvv"},
	}
	app := newApp(strings.NewReader(""), io.Discard, io.Discard)
	for _, tt := range tests {
		got, err := reorderArgs(app, strings.Fields(tt.in))
		if want := strings.Fields(tt.want); err != nil || !slices.Equal(got, want) {
			t.Errorf("reorderArgs(%q) = %q, %v; want %q", tt.in, got, err, want)
		}
	}
	// A flag missing its value must not take an operand for it (it would
	// make the destination the source): a usage error.
	for _, in := range []string{"cvv src dst --hash", "cvv src dst -q --hash-file", "cvv verify dst --against", "cvv src dst -qj"} {
		if got, err := reorderArgs(app, strings.Fields(in)); !errors.Is(err, usage.ErrUsage) {
			t.Errorf("reorderArgs(%q) = %q, %v; want a usage error", in, got, err)
		}
	}
}
