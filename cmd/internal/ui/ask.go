package ui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// asker asks yes/no questions on out and reads the answers from in.
type asker struct {
	in  io.Reader
	out io.Writer
}

// askPaused asks question with the live display stopped (pause) and,
// once answered, calls resume under mu to start it again.
func (a asker) askPaused(ctx context.Context, mu *sync.Mutex, question string, pause, resume func()) (bool, error) {
	pause()
	ok, err := a.ask(ctx, mu, question)
	if err == nil {
		mu.Lock()
		resume()
		mu.Unlock()
	}
	return ok, err
}

// ask writes question to a.out under mu and reads the answer; an empty
// answer is yes.
func (a asker) ask(ctx context.Context, mu *sync.Mutex, question string) (bool, error) {
	mu.Lock()
	io.WriteString(a.out, question)
	mu.Unlock()
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(a.in).ReadString('\n')
		ch <- answer{line, err}
	}()
	var line string
	select {
	case ans := <-ch:
		if ans.err != nil && (ans.err != io.EOF || ans.line == "") {
			return false, fmt.Errorf("--ask: no answer on standard input; the copies were not verified")
		}
		line = ans.line
	case <-ctx.Done():
		return false, ctx.Err()
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		return true, nil
	}
	return false, nil
}
