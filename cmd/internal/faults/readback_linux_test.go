package faults

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCLIReadBackBehindTheCopy: in full mode the io_uring engine verifies
// each copy behind the copy, reading it back through the descriptor it
// wrote it with. Three destinations on a FUSE filesystem that honours
// O_DIRECT and lets no temp file be opened a second time: the first is
// verified (only a verification behind the copy can read it); the second
// stores a flipped byte and fails its verification, named, its copy
// removed; the third fails to read back (EIO) and fails its verification
// with the errno. No temp file is reopened.
func TestCLIReadBackBehindTheCopy(t *testing.T) {
	e := mountErrorFS(t, ErrorFSOptions{DirectIO: true})
	work := workDir(t, 64<<20)
	src := filepath.Join(work, "clip.mov")
	data := make([]byte, 3<<20+4321)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var dests []string
	for _, d := range []string{"d1", "d2", "d3"} {
		mkdirs(t, filepath.Join(e.Backing, d))
		dests = append(dests, filepath.Join(e.Mountpoint, d)+"/")
	}
	e.Inject(Fault{Op: OpOpen, Match: "*/.cvv-*.partial", Errno: syscall.EACCES})
	e.Inject(Fault{Op: OpCorrupt, Match: "d2/.cvv-*.partial", From: 1 << 20})
	e.Inject(Fault{Op: OpRead, Match: "d3/.cvv-*.partial", Errno: syscall.EIO, From: 2 << 20})
	// One filesystem for all three: --write auto would take the page cache.
	// (The io_uring engine's, also when the tests force the portable one.)
	r := runCVV(t, runOpts{Env: []string{"CVV_ENGINE=uring"}}, append([]string{"-m", "full", "--write", "direct", src}, dests...)...)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1\n%v", r.Code, r)
	}
	if e.Hits(OpCorrupt) == 0 || e.Hits(OpRead) == 0 {
		t.Fatalf("the faults never fired: %q\n%v", e.Log(), r)
	}
	if n := e.Hits(OpOpen); n != 0 {
		t.Errorf("a temp file was opened again %d times: the copies were not verified behind the copy\n%v", n, r)
	}
	if b, err := os.ReadFile(filepath.Join(e.Backing, "d1", "clip.mov")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("the good copy is not complete under its name (%v)\n%v", err, r)
	}
	for _, d := range []string{"d2", "d3"} {
		if _, err := os.Lstat(filepath.Join(e.Backing, d, "clip.mov")); err == nil {
			t.Errorf("the copy on %s has its final name after a failed verification", d)
		}
	}
	expectOutput(t, r, filepath.Join(e.Mountpoint, "d2", "clip.mov"), "destination differs",
		filepath.Join(e.Mountpoint, "d3", "clip.mov"), "input/output error", "the copy was removed")
	if strings.Contains(r.Stdout+r.Stderr, filepath.Join(e.Mountpoint, "d1", "clip.mov")+":") {
		t.Errorf("the good destination is blamed\n%v", r)
	}
}
