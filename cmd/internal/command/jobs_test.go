package command

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvv-project/cvv"
)

// TestJobsBigFiles: by default 16 files are in flight but at most 4 of them
// larger than one block; an explicit --jobs applies to all files.
func TestJobsBigFiles(t *testing.T) {
	files := map[string]string{}
	for i := range 24 {
		files[fmt.Sprintf("big%02d", i)] = strings.Repeat("b", 4096+1) // two 4K blocks
		files[fmt.Sprintf("small%02d", i)] = "s"
	}
	src := footage(t, files)
	var mu sync.Mutex
	var cur, peak map[bool]int
	engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) {
		fi, err := os.Stat(job.Source)
		if err != nil {
			return nil, err
		}
		big := fi.Size() > 4096
		mu.Lock()
		cur[big]++
		peak[big] = max(peak[big], cur[big])
		mu.Unlock()
		time.Sleep(50 * time.Millisecond) // let the others pile up
		defer func() {
			mu.Lock()
			cur[big]--
			mu.Unlock()
		}()
		return e.Copy(ctx, job)
	}
	t.Cleanup(func() {
		engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) { return e.Copy(ctx, job) }
	})
	for _, c := range []struct {
		args            []string
		bigMax, bothMax int
	}{
		{nil, defaultBigJobs, defaultJobs},
		{[]string{"-j", "6"}, 6, 6},
	} {
		cur, peak = map[bool]int{}, map[bool]int{}
		dst := filepath.Join(t.TempDir(), "d")
		args := append(append([]string{"-q", "--no-fsync", "--block-size", "4K", "--mode", "transfer"}, c.args...), src, dst)
		if code, _, stderr := runCLI(t, args...); code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if peak[true] > c.bigMax || peak[true] < 2 {
			t.Errorf("%v: %d big files in flight at once, want 2 to %d", c.args, peak[true], c.bigMax)
		}
		if c.args != nil && peak[true] <= defaultBigJobs {
			t.Errorf("%v: only %d big files in flight at once: an explicit --jobs must apply to them", c.args, peak[true])
		}
		if peak[true]+peak[false] < c.bigMax+1 && c.bothMax > c.bigMax {
			t.Errorf("%v: small files did not run beside the big ones (peaks %v)", c.args, peak)
		}
	}
}
