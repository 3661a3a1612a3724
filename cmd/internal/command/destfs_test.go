package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv"
)

// TestAttrsSetAgain: a filesystem that drops the mtime and mode set on the
// temp file (exfat-fuse dropped the mtime of every copy) gets them again
// by path after the rename, with a line saying so; the copy then keeps the
// source's, and a re-run skips it.
func TestAttrsSetAgain(t *testing.T) {
	src := footage(t, map[string]string{"a.wav": "aaaa", "sub/b.wav": "bb"})
	mt := time.Date(2025, 6, 7, 8, 9, 11, 987654321, time.UTC)
	for _, p := range []string{"a.wav", "sub/b.wav"} {
		if err := os.Chmod(filepath.Join(src, p), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(src, p), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) {
		res, err := e.Copy(ctx, job)
		if err != nil {
			return res, err
		}
		for _, dr := range res.Dests {
			// What a filesystem that keeps no attributes across the
			// rename leaves (the copy is held under its temp name until
			// it is verified, then renamed).
			d := dr.Path
			if dr.Temp != "" {
				d = dr.Temp
			}
			now := time.Now()
			if cerr := os.Chtimes(d, now, now); cerr != nil {
				t.Error(cerr)
			}
			if cerr := os.Chmod(d, 0o600); cerr != nil {
				t.Error(cerr)
			}
		}
		return res, err
	}
	t.Cleanup(func() {
		engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) { return e.Copy(ctx, job) }
	})
	dst := filepath.Join(t.TempDir(), "d")
	code, stdout, stderr := runCLI(t, "--no-fsync", src, dst)
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout+stderr, "did not keep the mtime or mode set before the rename"); n != 1 {
		t.Errorf("%d lines say the attributes were set again, want 1 for the destination:\n%s%s", n, stdout, stderr)
	}
	for _, p := range []string{"a.wav", "sub/b.wav"} {
		fi, err := os.Stat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(mt) || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mtime %s mode %v, want %s %v", p, fi.ModTime(), fi.Mode().Perm(), mt, os.FileMode(0o640))
		}
	}
	engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) {
		t.Errorf("re-run copies %s again", job.Source)
		return e.Copy(ctx, job)
	}
	if code, stdout, stderr := runCLI(t, "--no-fsync", src, dst); code != ExitOK || !strings.Contains(stdout+stderr, "2 skipped") {
		t.Errorf("re-run: exit %d:\n%s%s", code, stdout, stderr)
	}
}
