package faults

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fuseProcess is a FUSE server running in a child process: the test binary
// re-executed with an environment variable that makes its TestMain serve a
// filesystem (ServeErrorFS, ServePowerFS). A FUSE server inside the process
// that also does the I/O can deadlock with io_uring (the kernel's worker
// waits uninterruptibly for a reply from a process that is itself stuck),
// and a test must never hang the machine.
//
// The server reports on its standard output, one line per message: "ready"
// once mounted, then whatever its protocol adds (PowerFS: "cut").
type fuseProcess struct {
	mountpoint string
	cmd        *exec.Cmd
	exited     chan error
	lines      chan string
}

// startFUSEProcess starts exe with env=config and waits for its "ready"
// line.
func startFUSEProcess(exe, env, config, mountpoint string) (*fuseProcess, error) {
	p := &fuseProcess{mountpoint: mountpoint, exited: make(chan error, 1), lines: make(chan string, 16)}
	p.cmd = exec.Command(exe)
	p.cmd.Env = append(os.Environ(), env+"="+config)
	p.cmd.Stderr = os.Stderr
	// The server must not outlive the test binary that drives it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start FUSE server: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- strings.TrimSpace(sc.Text())
		}
		close(p.lines)
	}()
	go func() { p.exited <- p.cmd.Wait() }()
	line, err := p.expect("ready", 20*time.Second)
	if err != nil {
		_ = p.cmd.Process.Kill()
		return nil, fmt.Errorf("FUSE server on %s did not start: %q: %w", mountpoint, line, err)
	}
	return p, nil
}

// expect waits for the next line of the server and fails unless it is want.
func (p *fuseProcess) expect(want string, timeout time.Duration) (string, error) {
	line, err := p.expectPrefix(want, timeout)
	if err == nil && line != want {
		err = fmt.Errorf("server said %q, want %q", line, want)
	}
	return line, err
}

// expectPrefix waits for the next line of the server and fails unless it
// starts with want.
func (p *fuseProcess) expectPrefix(want string, timeout time.Duration) (string, error) {
	select {
	case line, ok := <-p.lines:
		switch {
		case !ok:
			return "", fmt.Errorf("server exited before %q", want)
		case !strings.HasPrefix(line, want):
			return line, fmt.Errorf("server said %q, want %q", line, want)
		}
		return line, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no %q from the server in %v", want, timeout)
	}
}

// unmount unmounts the filesystem and waits for the server to exit.
func (p *fuseProcess) unmount() error {
	var err error
	for range 50 {
		if err = unix.Unmount(p.mountpoint, 0); err != unix.EBUSY {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == unix.EBUSY {
		err = unix.Unmount(p.mountpoint, unix.MNT_DETACH)
	}
	if err != nil {
		_ = p.cmd.Process.Kill()
		<-p.exited
		return &os.PathError{Op: "umount fuse", Path: p.mountpoint, Err: err}
	}
	select {
	case werr := <-p.exited:
		if werr != nil {
			return fmt.Errorf("FUSE server on %s: %w", p.mountpoint, werr)
		}
		return nil
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("FUSE server on %s did not exit after the unmount", p.mountpoint)
	}
}
