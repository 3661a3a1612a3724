package plan

import (
	"cmp"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Found is one entry a Scan visits.
type Found struct {
	Entry
	// Info is the entry's lstat result; nil for a Problem.
	Info fs.FileInfo
	// Target is what a symlink points to, as read.
	Target string
	// Err is set when the entry could not be walked (an unreadable
	// directory, an entry that vanished, a link that cannot be read): the
	// entry is a Problem at Rel, and the walk goes on. A directory that
	// cannot be listed is visited once as a Dir and once as a Problem.
	Err error
}

// Scan walks the directory root, below which nothing is followed, and
// calls visit for every entry in path order: the order of the entries'
// relative paths with '/' separators compared byte by byte, as sorted
// hash lists and cvv hash list them. A directory is visited before what
// it holds (the root first, as Rel ""). What o leaves out is not visited;
// Scan returns how many entries the user's exclude patterns left out.
// visit and o.Skip are called on the calling goroutine, one call at a
// time; visit must not keep f past its return, and o.Skip is asked
// about the names of a directory a batch at a time, a few batches
// ahead of their visits.
//
// Scan holds the entries of the directories it is in (one listing per
// level of depth), never the tree: memory is proportional to the depth
// times the size of a directory, not to the number of files. It holds
// those directories open too, up to heldDirs levels: each entry's lstat
// is taken from its directory's descriptor, never by its path. Where
// GOMAXPROCS allows, goroutines of its own (statPool) take those lstats
// (and the readlink of a symlink) a batch of names at a time, a few
// batches ahead of the walk in each directory it is in, while the walk
// takes the batches it reaches that no goroutine took: the entries are
// still visited in order, with the results a walk on one goroutine
// would have. An error from visit, or ctx done, stops the walk and is
// returned.
func Scan(ctx context.Context, root string, o WalkOptions, visit func(*Found) error) (excluded int, err error) {
	fi, err := os.Stat(root)
	if err != nil {
		return 0, err
	}
	s := &scanner{ctx: ctx, root: root, opts: o, visit: visit, pool: newStatPool(statWorkers())}
	defer s.pool.stop()
	if err := s.visit(&Found{Entry: EntryOf("", fi), Info: fi}); err != nil {
		return 0, err
	}
	err = s.dir("", 0)
	return s.excluded, err
}

type scanner struct {
	ctx      context.Context
	root     string
	opts     WalkOptions
	visit    func(*Found) error
	excluded int
	pool     *statPool // nil: every lstat is taken on the walk's goroutine
}

// heldDirs bounds the directories a Scan holds open, one a level: below
// that depth, a directory is closed before the walk descends from it,
// and the rest of its entries are looked up by path.
const heldDirs = 64

// statBatch is at most how many names of a listing are looked at in
// one go, and minBatch at least: enough that handing a batch to another
// goroutine costs little beside its lstats (some 3 µs each on a
// paravirtual machine), few enough that a listing of a few dozen names
// is shared (a quarter of a listing a batch, between the two).
const (
	statBatch = 32
	minBatch  = 8
)

// statAhead is how many batches of a listing, the one the walk is at
// included, are ready to be taken: what the pool holds of a listing.
const statAhead = 8

// statWorkers is how many goroutines a Scan has look ahead of it: one
// fewer than the Go processors (the walk has its own), at most 3. A
// variable so that tests can set it.
var statWorkers = func() int { return min(runtime.GOMAXPROCS(0)-1, 3) }

// listed is a directory Scan is in: its names in path order, and the
// batches of them that are ready.
type listed struct {
	l   *listing
	dir string // the directory's path
	rel string
	des []fs.DirEntry
	// batches are des split per names at a time; those the walk is
	// through and those not yet ready are nil.
	batches []*statBatchState
	per     int
	// ahead is whether the pool takes d's batches; if not, each entry
	// is looked at as the walk reaches it.
	ahead bool
}

// The states of a statBatchState: waiting to be taken, or taken by a
// goroutine (the walk's, or one of the pool's), which closes done when
// it is through.
const (
	batchWaiting int32 = iota
	batchTaken
)

// statBatchState is one batch of a listing: which of its names are
// visited, and what is found of them.
type statBatchState struct {
	state atomic.Int32
	done  chan struct{}
	d     *listed
	first int // the index in d.des of found[0]
	// found holds, for each name, its Rel, then once looked at what it
	// is; left is why a name is not visited (o.Skip or an exclude
	// pattern), or nameVisited.
	found []Found
	left  []uint8
}

// Why a name of a listing is left out, if it is.
const (
	nameVisited uint8 = iota
	nameSkipped
	nameExcluded
)

// dir visits what the directory at rel, depth levels below the root,
// holds, descending into each subdirectory where its name falls in path
// order.
func (s *scanner) dir(rel string, depth int) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(s.root, rel)
	l, des, err := openListing(dir)
	defer l.close()
	if err != nil {
		// What could be read is still visited.
		if err := s.visit(&Found{Entry: Entry{Rel: rel}, Err: err}); err != nil {
			return err
		}
	}
	slices.SortFunc(des, comparePathOrder)
	per := min(max((len(des)+3)/4, minBatch), statBatch)
	d := &listed{l: l, dir: dir, rel: rel, des: des, batches: make([]*statBatchState, (len(des)+per-1)/per), per: per}
	// Below heldDirs the listing is closed on the way down: its entries
	// are looked at one by one as the walk reaches them, by path once
	// it is closed.
	d.ahead = s.pool != nil && depth < heldDirs && len(d.batches) > 1
	if d.ahead {
		// No goroutine may be at an lstat on l's descriptor when it
		// closes (after this, as deferred calls run last first).
		defer d.settle()
	}
	for k := range d.batches {
		for j := k; j < min(k+statAhead, len(d.batches)); j++ {
			if d.batches[j] == nil {
				s.ready(d, j)
			}
		}
		b := d.batches[k]
		if d.ahead {
			b.await()
		}
		for i := range b.found {
			switch b.left[i] {
			case nameSkipped:
				continue
			case nameExcluded:
				s.excluded++
				continue
			}
			f := &b.found[i]
			if !d.ahead {
				d.look(f, des[b.first+i])
			}
			if err := s.visit(f); err != nil {
				return err
			}
			if f.Err == nil && f.Kind == Dir {
				if depth >= heldDirs {
					l.close()
				}
				if err := s.dir(f.Rel, depth+1); err != nil {
					return err
				}
			}
		}
		d.batches[k] = nil
	}
	return nil
}

// ready makes batch k of d: asks o.Skip and the exclude patterns about
// each of its names, and gives it to the pool unless the walk is at it.
func (s *scanner) ready(d *listed, k int) {
	des := d.des[k*d.per : min((k+1)*d.per, len(d.des))]
	b := &statBatchState{d: d, first: k * d.per, found: make([]Found, len(des)), left: make([]uint8, len(des))}
	for i, de := range des {
		r := joinRel(d.rel, de.Name())
		slash := filepath.ToSlash(r)
		switch {
		case s.opts.Skip != nil && s.opts.Skip(slash):
			b.left[i] = nameSkipped
		case s.opts.Excludes.Match(slash, de.IsDir()):
			b.left[i] = nameExcluded
		default:
			b.found[i].Rel = r
		}
	}
	d.batches[k] = b
	if d.ahead {
		b.done = make(chan struct{})
		if k > 0 {
			s.pool.add(b)
		}
	}
}

// look fills f, whose Rel is set, for the name de of d: its lstat, and
// the target of a symlink. A failure is f's Err.
func (d *listed) look(f *Found, de fs.DirEntry) {
	rel := f.Rel
	fi, err := d.l.lstat(de)
	if err != nil {
		*f = Found{Entry: Entry{Rel: rel}, Err: err}
		return
	}
	*f = Found{Entry: EntryOf(rel, fi), Info: fi}
	if f.Kind == Symlink {
		if f.Target, err = os.Readlink(filepath.Join(d.dir, de.Name())); err != nil {
			*f = Found{Entry: Entry{Rel: rel}, Err: err}
		}
	}
}

// take looks at the names of b if no goroutine has taken it, and
// reports whether it did.
func (b *statBatchState) take() bool {
	if !b.state.CompareAndSwap(batchWaiting, batchTaken) {
		return false
	}
	for i := range b.found {
		if b.left[i] == nameVisited {
			b.d.look(&b.found[i], b.d.des[b.first+i])
		}
	}
	close(b.done)
	return true
}

// await returns once b is looked at: on the calling goroutine if no
// other has taken it, else by another.
func (b *statBatchState) await() {
	if !b.take() {
		<-b.done
	}
}

// settle returns once no goroutine of the pool is at a batch of d or
// will start one: those not taken are withdrawn (the walk stopped
// before it reached them).
func (d *listed) settle() {
	for _, b := range d.batches {
		if b != nil && !b.state.CompareAndSwap(batchWaiting, batchTaken) {
			<-b.done
		}
	}
}

// statPool is the goroutines that take the batches of the listings a
// Scan is in ahead of the walk, oldest first. The walk takes itself the
// batches it reaches that none took, so the work is shared however fast
// each side goes. It holds no more than statAhead batches of each
// directory the walk is in. Its goroutines start with the first batch
// given to it.
type statPool struct {
	workers int
	mu      sync.Mutex
	more    sync.Cond         // signalled when queue grows or the pool stops
	queue   []*statBatchState // oldest first; those the walk took are passed over
	started bool
	stopped bool
	wg      sync.WaitGroup
}

// newStatPool returns a pool of n goroutines, or nil if n < 1.
func newStatPool(n int) *statPool {
	if n < 1 {
		return nil
	}
	p := &statPool{workers: n}
	p.more.L = &p.mu
	return p
}

// add queues b.
func (p *statPool) add(b *statBatchState) {
	p.mu.Lock()
	p.queue = append(p.queue, b)
	if !p.started {
		p.started = true
		p.wg.Add(p.workers)
		for range p.workers {
			go p.work()
		}
	}
	p.mu.Unlock()
	p.more.Signal()
}

// work takes queued batches until the pool stops.
func (p *statPool) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.stopped {
			p.more.Wait()
		}
		if p.stopped {
			p.mu.Unlock()
			return
		}
		b := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
		b.take()
	}
}

// stop ends the pool's goroutines, each once it is through its batch.
// The walk has settled every listing by then (listed.settle): no batch
// is left for them.
func (p *statPool) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.stopped = true
	p.queue = nil
	p.mu.Unlock()
	p.more.Broadcast()
	p.wg.Wait()
}

// joinRel is the relative path of the entry name of the directory at
// rel: filepath.Join's result without its Clean (a tenth of a walk's
// user CPU), which has nothing to do, as rel is clean and a name a
// directory lists holds no separator and is never "", "." or "..".
func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + string(filepath.Separator) + name
}

// comparePathOrder orders the entries of one directory as their paths
// sort: a directory's contents follow its name and a '/', so "a.txt"
// (0x2e) comes before what "a/" holds, and that before "a0".
func comparePathOrder(a, b fs.DirEntry) int {
	an, bn := a.Name(), b.Name()
	n := min(len(an), len(bn))
	if c := strings.Compare(an[:n], bn[:n]); c != 0 {
		return c
	}
	return cmp.Compare(keyAt(an, a.IsDir(), n), keyAt(bn, b.IsDir(), n))
}

// keyAt is the byte at i of name, followed by '/' for a directory; -1
// past the end.
func keyAt(name string, dir bool, i int) int {
	switch {
	case i < len(name):
		return int(name[i])
	case i == len(name) && dir:
		return '/'
	}
	return -1
}
