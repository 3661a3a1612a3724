package command

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumFlags start a headless chromium that touches nothing but the
// page it is given.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"}

func runChromium(t *testing.T, chromium string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args = append(append(chromiumFlags, "--user-data-dir="+t.TempDir()), args...)
	if out, err := exec.CommandContext(ctx, chromium, args...).CombinedOutput(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, out)
	}
}

// reportRun copies a generated card to two destinations, one of which
// has a directory in the way of sub/b.wav, with --report and --hash-file,
// and returns the report's path.
func reportRun(t *testing.T) (dir, html string) {
	dir = t.TempDir()
	for name, size := range map[string]int{"card/A001.mov": 3 << 20, "card/sub/b.wav": 5 << 10, "card/sub/c.txt": 10} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(size)}, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "d2/sub/b.wav"), 0o755); err != nil {
		t.Fatal(err)
	}
	html = filepath.Join(dir, "report.html")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"cvv", "-q", "--hash-file", "sums", filepath.Join(dir, "card"),
		filepath.Join(dir, "d1"), filepath.Join(dir, "d2"), "--report", html}, strings.NewReader(""), &stdout, &stderr)
	if code != ExitFailure {
		t.Fatalf("status %d, want %d (a failed file)\n%s%s", code, ExitFailure, stdout.String(), stderr.String())
	}
	return dir, html
}

// TestReportInBrowser renders the report of a real run with one failed
// file in headless chromium, to PNG and to PDF, and checks the text of
// the rendered PDF: the totals and the failed file's row are there, and
// the per-file table was filled in by its script.
func TestReportInBrowser(t *testing.T) {
	chromium := needTool(t, "chromium")
	pdftotext := needTool(t, "pdftotext")
	dir, html := reportRun(t)
	for _, d := range []string{"d1", "d2"} {
		if m, _ := filepath.Glob(filepath.Join(dir, d, "cvv-report-*.html")); len(m) != 1 {
			t.Errorf("%s: reports beside the manifests: %v, want one", d, m)
		}
	}
	pdf := filepath.Join(dir, "report.pdf")
	runChromium(t, chromium, "--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+html)
	out, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{
		"cvv transfer report FAILED",
		"3 files: 2 copied, 0 skipped, 1 failed",
		"Exit status 1",
		"sub/b.wav 5.0 KiB 14c551510d4ef602 ok ok failed", // the failed file's row
		"sub/c.txt 10 B 5f07ae5ed7a3e422 ok ok ok",        // filled in by the table's script
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered report lacks %q:\n%s", want, text)
		}
	}
	shot := filepath.Join(dir, "report.png")
	runChromium(t, chromium, "--window-size=1000,1300", "--hide-scrollbars", "--screenshot="+shot, "file://"+html)
	checkScreenshot(t, shot)
	if dst := os.Getenv("CVV_REPORT_SCREENSHOT"); dst != "" {
		data, err := os.ReadFile(shot)
		if err == nil {
			err = os.WriteFile(dst, data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// checkScreenshot checks the PNG is the window's size and shows the red
// FAILED badge.
func checkScreenshot(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 1300 {
		t.Errorf("screenshot is %v, want 1000x1300", b)
	}
	red := 0
	for y := range 120 {
		for x := range 600 {
			r, g, b, _ := img.At(x, y).RGBA()
			if r>>8 == 0xb5 && g>>8 == 0x21 && b>>8 == 0x21 {
				red++
			}
		}
	}
	if red < 100 {
		t.Errorf("no FAILED badge at the top of the screenshot (%d red pixels)", red)
	}
	_ = image.Point{}
}
