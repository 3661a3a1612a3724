//go:build testhooks

package command

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSymlinkAtVerify: between the copy and the verification of
// CLIP/C0001.MP4, the destination's CLIP directory (which holds the copy
// under its temp name) is swapped for a symlink to a directory outside the
// destination that holds a file under the same temp name: a good copy, or
// a bad one. The old code verified by path: it read the file outside, and
// set its mtime there when it passed, or removed it there as a failed
// copy. Every operation on the copy now starts from the root's
// descriptor: the file fails on that destination with a line naming the
// symlink, and nothing outside changes.
func TestSymlinkAtVerify(t *testing.T) {
	for _, eng := range testEngines(t) {
		for _, tc := range []struct{ mode, bait string }{{"transfer", "card clip"}, {"full", "card clip"}, {"transfer", "bad"}, {"full", "card clap"}} {
			t.Run(eng+"/"+tc.mode+"/"+tc.bait, func(t *testing.T) {
				src := footage(t, map[string]string{"CLIP/C0001.MP4": "card clip", "AUDIO/A001.WAV": "audio"})
				out := t.TempDir()
				victim, dst := filepath.Join(out, "victim"), filepath.Join(out, "dst")
				for _, d := range []string{victim, dst} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				// The bait: a file outside, under the copy's temp name, with
				// an old mtime.
				hook := `[ "$CVV_TEST_FILE" = CLIP/C0001.MP4 ] || exit 0
bait="$VICTIM/$(basename "$CVV_TEST_DESTS")"
printf '%s' "$BAIT" > "$bait" && touch -d @1000000000 "$bait" &&
mv "$DST/CLIP" "$DST/CLIP.hold" && ln -s ../victim "$DST/CLIP"`
				t.Setenv("CVV_TEST_BEFORE_VERIFY", hook)
				t.Setenv("VICTIM", victim)
				t.Setenv("DST", dst)
				t.Setenv("BAIT", tc.bait)
				code, stdout, stderr := runCLI(t, "--engine", eng, "--mode", tc.mode, src, dst)
				if code != ExitFailure {
					t.Errorf("exit %d, want %d:\n%s%s", code, ExitFailure, stdout, stderr)
				}
				ents, err := os.ReadDir(victim)
				if err != nil {
					t.Fatal(err)
				}
				if len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), ".cvv-") {
					t.Fatalf("outside the destination: %v, want the bait alone\n%s%s", ents, stdout, stderr)
				}
				bait := filepath.Join(victim, ents[0].Name())
				fi, err := os.Stat(bait)
				if b, _ := os.ReadFile(bait); err != nil || string(b) != tc.bait || !fi.ModTime().Equal(time.Unix(1000000000, 0)) {
					t.Errorf("the file outside changed: %q, %v, %v", b, fi.ModTime(), err)
				}
				if !strings.Contains(stdout+stderr, "symlink") {
					t.Errorf("no line names the symlink:\n%s%s", stdout, stderr)
				}
				if b, err := os.ReadFile(filepath.Join(dst, "AUDIO", "A001.WAV")); err != nil || string(b) != "audio" {
					t.Errorf("the rest was not copied: %q, %v", b, err)
				}
			})
		}
	}
}

// TestMovedAtVerify: between the copy and the verification of
// CLIP/C0001.MP4, the destination's CLIP directory (which holds the copy
// under its temp name, and which the root keeps open from the copy) is
// moved out of the destination. In transfer and source modes one opening
// of the directory serves the size check, the record, the rename and the
// checks of the final name; it must still check, before any of them, that
// the directory is where the root's path leads: the file fails, and
// nothing is written in the moved directory (no final name, no record, the
// temp file as the copy left it).
func TestMovedAtVerify(t *testing.T) {
	for _, eng := range testEngines(t) {
		for _, mode := range []string{"transfer", "source", "full"} {
			t.Run(eng+"/"+mode, func(t *testing.T) {
				src := footage(t, map[string]string{"CLIP/C0001.MP4": "card clip", "CLIP/C0002.MP4": "second clip", "AUDIO/A001.WAV": "audio"})
				out := t.TempDir()
				moved, dst := filepath.Join(out, "moved"), filepath.Join(out, "dst")
				hook := `[ "$CVV_TEST_FILE" = CLIP/C0002.MP4 ] || exit 0
mv "$DST/CLIP" "$MOVED"`
				t.Setenv("CVV_TEST_BEFORE_VERIFY", hook)
				t.Setenv("MOVED", moved)
				t.Setenv("DST", dst)
				// One file at a time: C0001 is placed before C0002 is
				// copied, through the same kept directory.
				code, stdout, stderr := runCLI(t, "--engine", eng, "-j", "1", "--mode", mode, src, dst)
				if code != ExitFailure {
					t.Errorf("exit %d, want %d:\n%s%s", code, ExitFailure, stdout, stderr)
				}
				// The held copy is still in the moved directory: the
				// failure must not say it was removed.
				if strings.Contains(stdout+stderr, "the copy was removed") {
					t.Errorf("the failure says the copy was removed; it is still in the moved directory:\n%s%s", stdout, stderr)
				}
				ents, err := os.ReadDir(moved)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				// C0001.MP4 was placed before the move; C0002.MP4 must not
				// be: its copy stays under its temp name, untouched.
				if len(names) != 2 || !strings.HasPrefix(names[0], ".cvv-") || names[1] != "C0001.MP4" {
					t.Fatalf("in the moved directory: %v, want C0001.MP4 and the temp file of C0002.MP4\n%s%s", names, stdout, stderr)
				}
				tmp := filepath.Join(moved, names[0])
				if n, err := unix.Lgetxattr(tmp, "user.cvv.verified", nil); err == nil || n > 0 {
					t.Errorf("the temp file in the moved directory got a record (%d bytes, %v)", n, err)
				}
				if b, err := os.ReadFile(tmp); err != nil || string(b) != "second clip" {
					t.Errorf("the temp file in the moved directory: %q, %v", b, err)
				}
				if _, err := os.Lstat(filepath.Join(dst, "CLIP")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the destination's CLIP came back: %v", err)
				}
				if b, err := os.ReadFile(filepath.Join(dst, "AUDIO", "A001.WAV")); err != nil || string(b) != "audio" {
					t.Errorf("the rest was not copied: %q, %v", b, err)
				}
			})
		}
	}
}
