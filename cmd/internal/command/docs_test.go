package command

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// needTool returns the path of a shell or tool the test runs; without it
// the test skips, unless CI is set (.ci/run installs it).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// allFlagNames returns "--name" for every flag of the app and its
// subcommands.
func allFlagNames() []string {
	app := newApp(strings.NewReader(""), io.Discard, io.Discard)
	var out []string
	add := func(fs []cli.Flag) {
		for _, f := range fs {
			out = append(out, "--"+f.Names()[0])
		}
	}
	add(app.Flags)
	for _, c := range app.Commands {
		add(c.Flags)
	}
	return out
}

func TestManPageListsEveryFlag(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMan(&b); err != nil {
		t.Fatal(err)
	}
	man := b.String()
	if !strings.HasPrefix(man, ".nh\n.TH cvv 1") {
		t.Errorf("not a section 1 man page: %.40q", man)
	}
	for _, f := range allFlagNames() {
		if !strings.Contains(man, `\fB`+f) {
			t.Errorf("man page lacks %s", f)
		}
	}
	// The mode table is preformatted, not refilled into one paragraph.
	if !strings.Contains(man, ".EX\n   transfer") || !strings.Contains(man, "DEST/<name>") {
		t.Errorf("man page lost the description's layout:\n%s", man)
	}
	roff := needTool(t, "groff")
	cmd := exec.Command(roff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(man)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff -ww: %v\n%s", err, out)
	}
}

func writeScripts(t *testing.T) string {
	dir := t.TempDir()
	for sh, name := range map[string]string{"bash": "cvv.bash", "zsh": "_cvv", "fish": "cvv.fish"} {
		var b bytes.Buffer
		if err := WriteCompletion(&b, sh); err != nil {
			t.Fatal(err)
		}
		for _, f := range allFlagNames() {
			if !strings.Contains(b.String(), strings.TrimPrefix(f, "--")) {
				t.Errorf("%s completion lacks %s", sh, f)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteCompletion(io.Discard, "tcsh"); err == nil {
		t.Error("WriteCompletion(tcsh) did not fail")
	}
	return dir
}

// TestBashCompletion runs the generated function as bash's programmable
// completion does, on command lines a user types.
func TestBashCompletion(t *testing.T) {
	bash := needTool(t, "bash")
	dir := writeScripts(t)
	if err := os.WriteFile(filepath.Join(dir, "clip.mov"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ line, want, not string }{
		{"cvv --verify-a", "--verify-after", "--mode"},
		{"cvv -m ", "transfer source full", "clip.mov"},
		{"cvv src dst --hash s", "sha1 sha256", "source"},
		{"cvv --engine ", "auto uring fallback", ""},
		{"cvv ve", "verify", ""},
		{"cvv cl", "clip.mov", "verify"},
		{"cvv verify --no-", "--no-record", "--no-fsync"},
		{"cvv verify --against ", "clip.mov", ""},
		{"cvv hash --t", "--tag", ""},
		{"cvv src cl", "clip.mov", ""},
	}
	for _, tt := range tests {
		script := `source ./cvv.bash; read -ra COMP_WORDS <<<"$LINE"; [[ $LINE == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _cvv; echo "${COMPREPLY[*]}"`
		cmd := exec.Command(bash, "--norc", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LINE="+tt.line)
		out, err := cmd.CombinedOutput()
		got := strings.TrimSpace(string(out))
		if err != nil || !strings.Contains(got, tt.want) || (tt.not != "" && strings.Contains(got, tt.not)) {
			t.Errorf("bash completes %q to %q (%v); want %q and not %q", tt.line, got, err, tt.want, tt.not)
		}
	}
}

// TestFishCompletion asks fish itself what it would complete.
func TestFishCompletion(t *testing.T) {
	fish := needTool(t, "fish")
	dir := writeScripts(t)
	tests := []struct{ line, want, not string }{
		{"cvv --verify-a", "--verify-after", ""},
		{"cvv --mode ", "transfer", ""},
		{"cvv verify --ag", "--against", ""},
		{"cvv verify --", "--no-record", "--no-fsync"},
		{"cvv ", "verify", ""},
	}
	for _, tt := range tests {
		cmd := exec.Command(fish, "--no-config", "-c", "source ./cvv.fish; complete -C $LINE")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LINE="+tt.line)
		out, err := cmd.CombinedOutput()
		got := string(out)
		if err != nil || !strings.Contains(got, tt.want) || (tt.not != "" && strings.Contains(got, tt.not)) {
			t.Errorf("fish completes %q to %q (%v); want %q and not %q", tt.line, got, err, tt.want, tt.not)
		}
	}
}

// TestZshCompletion loads the function into zsh's completion system
// (syntax and what it registers); zsh offers no way to ask it for candidates outside
// an interactive line editor.
func TestZshCompletion(t *testing.T) {
	zsh := needTool(t, "zsh")
	dir := writeScripts(t)
	// compinit takes many seconds on a loaded machine: a stub compdef shows
	// what the file registers.
	cmd := exec.Command(zsh, "-f", "-c", `compdef() { print "compdef $*"; }; source ./_cvv; whence -w _cvv _cvv_top _cvv_verify _cvv_hash`)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	got := string(out)
	for _, want := range []string{"compdef _cvv cvv", "_cvv: function", "_cvv_top: function", "_cvv_verify: function", "_cvv_hash: function"} {
		if err != nil || !strings.Contains(got, want) {
			t.Errorf("zsh: %v\n%s\nwant %q", err, got, want)
		}
	}
	if err := exec.Command(zsh, "-n", filepath.Join(dir, "_cvv")).Run(); err != nil {
		t.Errorf("zsh -n _cvv: %v", err)
	}
}
