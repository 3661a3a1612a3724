package copier

import (
	"context"
	"sync"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// lookAhead looks at what the destinations hold under the name of each
// file (decideAt: the lstat and the verification record of the copy
// there, the system calls of a decision) on a goroutine of its own,
// ahead of decide, which takes what it found in the order of the files:
// the looks of a re-run run on one core while decide settles the files
// before them on the other.
//
// It looks at the files' own names only, in the order of the tree, and
// at most lookBatches batches of lookFiles files ahead of decide: a few
// thousand files' lstat and records are held, never the tree's. Nothing
// is written to a destination before decide ends, and no other run
// writes there (lockDests): what it finds a moment earlier is what
// decide would have found. decide looks itself at what lookAhead did
// not (a name a conflict gives, the files after a list that could not
// be read back).
type lookAhead struct {
	n     int
	ch    chan *lookBatch
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

// lookBatch is the looks of lookFiles files from file first on, n a
// file (zero where decide does not look: a fresh root, a name the
// destination refuses).
type lookBatch struct {
	first int
	looks []look
}

// The bounds of what lookAhead holds.
const (
	lookFiles   = 256
	lookBatches = 4
)

// lookAhead starts looking, for every destination i that is not fresh.
// stop ends it.
func (r *runner) lookAhead(ctx context.Context, fresh []bool) *lookAhead {
	n := len(r.plan.Dests)
	la := &lookAhead{n: n, ch: make(chan *lookBatch, lookBatches), free: make(chan *lookBatch, lookBatches+2), quit: make(chan struct{})}
	la.wg.Go(func() {
		defer close(la.ch)
		dirs := make([]lookDir, n)
		defer func() {
			for i := range dirs {
				dirs[i].close()
			}
		}()
		var b *lookBatch
		send := func() bool {
			select {
			case la.ch <- b:
				b = nil
				return true
			case <-la.quit:
				return false
			}
		}
		for k, e := range r.tree.Files.All() {
			if k%1024 == 0 && ctx.Err() != nil {
				return
			}
			if b == nil {
				select {
				case b = <-la.free:
					b.first, b.looks = k, b.looks[:0]
				default:
					b = &lookBatch{first: k, looks: make([]look, 0, lookFiles*n)}
				}
			}
			for i := range n {
				var l look
				if !fresh[i] && r.refusal(i, e.Rel) == nil {
					l.a, l.ex, l.err = r.decideWith(&dirs[i], i, r.plan.Target(i, e.Rel), e)
				}
				b.looks = append(b.looks, l)
			}
			if len(b.looks) == lookFiles*n && !send() {
				return
			}
		}
		if b != nil {
			send()
		}
	})
	return la
}

// file returns the looks at file k, one a destination, nil when
// lookAhead has none (decide then looks itself). It is called with k
// from 0 up, once each.
func (la *lookAhead) file(k int) []look {
	for !la.ended && (la.cur == nil || k >= la.cur.first+len(la.cur.looks)/la.n) {
		if la.cur != nil {
			clear(la.cur.looks) // what it found is decide's now
			select {
			case la.free <- la.cur:
			default:
			}
		}
		b, ok := <-la.ch
		la.cur, la.ended = b, !ok
	}
	if la.ended || k < la.cur.first {
		return nil
	}
	j := (k - la.cur.first) * la.n
	return la.cur.looks[j : j+la.n]
}

// stop ends the looking and waits for its goroutine: the directories it
// looked into are closed before decide returns.
func (la *lookAhead) stop() {
	close(la.quit)
	la.wg.Wait()
}
