//go:build unix

// Command rusage runs a command and appends its resource usage as one JSON
// line to a file: wall seconds, user and system CPU seconds and the peak
// resident set of the largest process, counting the command and every
// descendant it waited for. The benchmark wraps each timed command in it
// because hyperfine does not record memory.
//
//	rusage -o cell/rusage.jsonl [-label L] -- 'cvv -q SRC D1 D2 && sync'
//	rusage -o FILE -- prog arg...
//
// A single argument runs through sh -c; several run directly. rusage exits
// with the command's status (128+signal when killed), after recording it.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// record is one line of output; the field names are what
// bench/internal/report.Usage reads.
type record struct {
	Label     string  `json:"label,omitempty"`
	Wall      float64 `json:"wall_s"`
	User      float64 `json:"user_s"`
	Sys       float64 `json:"sys_s"`
	MaxRSSKiB int64   `json:"maxrss_kib"`
	Exit      int     `json:"exit"`
}

func main() {
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rusage:", err)
	}
	os.Exit(code)
}

func run(args []string) (int, error) {
	fl := flag.NewFlagSet("rusage", flag.ContinueOnError)
	out := fl.String("o", "", "append the JSON record to this file (required)")
	label := fl.String("label", "", "label stored with the record")
	if err := fl.Parse(args); err != nil {
		return 2, err
	}
	if *out == "" || fl.NArg() == 0 {
		return 2, errors.New("usage: rusage -o FILE [-label L] -- COMMAND...")
	}
	argv := fl.Args()
	if len(argv) == 1 {
		argv = []string{"/bin/sh", "-c", argv[0]}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 127, err
	}
	ps := cmd.ProcessState
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 1, fmt.Errorf("no rusage for %s", argv[0])
	}
	rec := record{
		Label:     *label,
		Wall:      wall.Seconds(),
		User:      tvSeconds(ru.Utime),
		Sys:       tvSeconds(ru.Stime),
		MaxRSSKiB: maxRSSKiB(ru),
		Exit:      exitCode(ps),
	}
	if err := appendRecord(*out, rec); err != nil {
		return 1, err
	}
	return rec.Exit, nil
}

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

func appendRecord(path string, rec record) (err error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = f.Write(append(b, '\n'))
	return err
}
