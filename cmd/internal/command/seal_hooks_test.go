//go:build testhooks

package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMtimeMovedBeforeSeal: between the copy and the verification, the
// held copy's mtime is moved. In transfer and source modes the rename
// follows the size check through one opening of the directory, and the
// source's mtime is set again only when that check saw another: here it
// must be, before the rename, so that the copy has the source's mtime
// under its final name without the "did not keep the mtime" repair.
func TestMtimeMovedBeforeSeal(t *testing.T) {
	for _, eng := range testEngines(t) {
		for _, mode := range []string{"transfer", "source", "full"} {
			t.Run(eng+"/"+mode, func(t *testing.T) {
				src := footage(t, map[string]string{"CLIP/C0001.MP4": "card clip", "CLIP/C0002.MP4": "second clip"})
				dst := filepath.Join(t.TempDir(), "dst")
				t.Setenv("CVV_TEST_BEFORE_VERIFY", `[ "$CVV_TEST_FILE" = CLIP/C0002.MP4 ] || exit 0
touch -d @1000000000 $CVV_TEST_DESTS`)
				code, stdout, stderr := runCLI(t, "--engine", eng, "--mode", mode, src, dst)
				if code != ExitOK {
					t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
				}
				if strings.Contains(stdout+stderr, "did not keep") {
					t.Errorf("the mtime was repaired after the rename, not set before it:\n%s%s", stdout, stderr)
				}
				for _, name := range []string{"C0001.MP4", "C0002.MP4"} {
					want, err := os.Stat(filepath.Join(src, "CLIP", name))
					if err != nil {
						t.Fatal(err)
					}
					got, err := os.Stat(filepath.Join(dst, "CLIP", name))
					if err != nil {
						t.Fatal(err)
					}
					if !got.ModTime().Equal(want.ModTime()) {
						t.Errorf("%s: mtime %v, want the source's %v", name, got.ModTime(), want.ModTime())
					}
				}
			})
		}
	}
}
