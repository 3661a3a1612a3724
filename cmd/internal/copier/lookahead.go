package copier

import (
	"context"
	"runtime"
	"sync"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// lookAhead looks at what the destinations hold under the name of each
// file (decideAt: the lstat and the verification record of the copy
// there, the system calls of a decision) on goroutines of its own,
// ahead of decide, which takes what they found in the order of the
// files: the looks of a re-run run on every core while decide settles
// the files before them.
//
// It looks at the files' own names only, in the order of the tree, and
// at most lookBatches batches of lookFiles files ahead of decide: a few
// thousand files' lstat and records are held, never the tree's. One
// goroutine reads the file list and cuts it into batches, handed in order
// to decide and, at the same time, to lookWorkers goroutines, each with
// its own open directories, that fill them; decide waits for a batch to
// be filled before it takes it. Nothing is written to a destination
// before decide ends, and no other run writes there (lockDests): what
// they find a moment earlier is what decide would have found. decide
// looks itself at what lookAhead did not (a name a conflict gives, the
// files after a list that could not be read back).
type lookAhead struct {
	n     int
	ch    chan *lookBatch // the batches in file order, to decide
	work  chan *lookBatch // the same batches, to the workers
	free  chan *lookBatch
	quit  chan struct{}
	wg    sync.WaitGroup
	cur   *lookBatch
	ended bool
}

// look is what decideAt found for one file on one destination.
type look struct {
	a   plan.Action
	ex  plan.Existing
	err error
}

// lookBatch is the looks of the files ents, the first of which is file
// first, n a file (zero where decide does not look: a fresh root, a
// name the destination refuses). filled is closed once looks is.
type lookBatch struct {
	first  int
	ents   []plan.Entry
	looks  []look
	filled chan struct{}
}

// The bounds of what lookAhead holds.
const (
	lookFiles   = 256
	lookBatches = 4
)

// lookWorkers is how many goroutines look, one a core (at most 4: the
// looks are system calls on as many directories).
func lookWorkers() int {
	return min(max(runtime.GOMAXPROCS(0), 1), 4)
}

// lookAhead starts looking, for every destination i that is not fresh.
// stop ends it.
func (r *runner) lookAhead(ctx context.Context, fresh []bool) *lookAhead {
	n := len(r.plan.Dests)
	la := &lookAhead{n: n, ch: make(chan *lookBatch, lookBatches), work: make(chan *lookBatch, lookBatches),
		free: make(chan *lookBatch, 2*lookBatches+2), quit: make(chan struct{})}
	la.wg.Go(func() {
		defer close(la.work)
		defer close(la.ch)
		var b *lookBatch
		send := func() bool {
			// To decide first: decide takes the batches in the order sent
			// here, and waits for each to be filled.
			for _, ch := range []chan *lookBatch{la.ch, la.work} {
				select {
				case ch <- b:
				case <-la.quit:
					close(b.filled) // nobody waits for it
					return false
				}
			}
			b = nil
			return true
		}
		for k, e := range r.tree.Files.All() {
			if k%1024 == 0 && ctx.Err() != nil {
				return
			}
			if b == nil {
				select {
				case b = <-la.free:
					b.first, b.ents, b.looks = k, b.ents[:0], b.looks[:0]
				default:
					b = &lookBatch{first: k, ents: make([]plan.Entry, 0, lookFiles), looks: make([]look, 0, lookFiles*n)}
				}
				b.filled = make(chan struct{})
			}
			b.ents = append(b.ents, e)
			if len(b.ents) == lookFiles && !send() {
				return
			}
		}
		if b != nil {
			send()
		}
	})
	for range lookWorkers() {
		la.wg.Go(func() {
			dirs := make([]lookDir, n)
			defer func() {
				for i := range dirs {
					dirs[i].close()
				}
			}()
			for b := range la.work {
				la.fill(r, b, dirs, fresh)
				close(b.filled)
			}
		})
	}
	return la
}

// fill looks at the files of b on every destination, through dirs. It
// leaves b empty when stop came first: nobody reads it then.
func (la *lookAhead) fill(r *runner, b *lookBatch, dirs []lookDir, fresh []bool) {
	for _, e := range b.ents {
		select {
		case <-la.quit:
			b.looks = b.looks[:0]
			return
		default:
		}
		for i := range la.n {
			var l look
			if !fresh[i] && r.refusal(i, e.Rel) == nil {
				l.a, l.ex, l.err = r.decideWith(&dirs[i], i, r.plan.Target(i, e.Rel), e)
			}
			b.looks = append(b.looks, l)
		}
	}
}

// file returns the looks at file k, one a destination, nil when
// lookAhead has none (decide then looks itself). It is called with k
// from 0 up, once each.
func (la *lookAhead) file(k int) []look {
	for !la.ended && (la.cur == nil || k >= la.cur.first+len(la.cur.ents)) {
		if la.cur != nil {
			clear(la.cur.looks) // what it found is decide's now
			clear(la.cur.ents)
			select {
			case la.free <- la.cur:
			default:
			}
		}
		b, ok := <-la.ch
		if ok {
			<-b.filled
		}
		la.cur, la.ended = b, !ok
	}
	if la.ended || k < la.cur.first {
		return nil
	}
	j := (k - la.cur.first) * la.n
	return la.cur.looks[j : j+la.n]
}

// stop ends the looking and waits for its goroutines: the directories
// they looked into are closed before decide returns.
func (la *lookAhead) stop() {
	close(la.quit)
	la.wg.Wait()
}
