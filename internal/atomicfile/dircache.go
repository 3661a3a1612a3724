package atomicfile

import (
	"container/list"
	"path/filepath"
	"sync"
)

// maxIdleDirs is how many directories a root keeps open below it while no
// one uses them.
const maxIdleDirs = 32

// dirCache keeps the directories below a root that OpenParent opened, so
// that the many files of one directory do not each open it again (an
// openat2, a close) for each of their steps: creating the temp file,
// checking its size, recording, renaming, looking up the final name.
//
// The rule that nothing below a root is reached through a symlink is kept
// by checking, every time a directory is lent out again, that it is still
// where the root's path and the directory's relative path lead: the
// kernel's own name for the open directory (whereIs: on Linux the
// /proc/self/fd link, which names the directory's place now, with no
// symlink in it) must be the root's joined with the relative path. A
// directory renamed, removed or replaced by a symlink (at any depth) fails
// that check and is opened again from the root with no symlink followed,
// which then fails as it would have. Where the kernel cannot name a
// directory (no /proc), nothing is kept and every OpenParent opens.
type dirCache struct {
	root *Dir
	// real is the root's name as the kernel gives it (symlinks in the
	// root's own path resolved), "" where it cannot: then nothing is kept.
	real func() string

	mu     sync.Mutex
	ents   map[string]*cacheEntry
	idle   list.List // of *cacheEntry nobody uses now, the most recent first
	closed bool
}

// cacheEntry is one directory a root keeps open.
type cacheEntry struct {
	cache *dirCache
	rel   string
	dir   *Dir // owns the descriptor
	refs  int  // Dirs lent out and not given back
	elem  *list.Element
	gone  bool // out of the cache: closed when the last user gives it back
}

func newDirCache(root *Dir) *dirCache {
	return &dirCache{
		root: root,
		real: sync.OnceValue(func() string { return whereIs(root.sys) }),
		ents: make(map[string]*cacheEntry),
	}
}

// lend returns the directory rel below the root: one the cache holds if it
// is still at its place, else one opened now (root.OpenDir), which the
// cache then keeps. The caller closes it (giving it back).
func (c *dirCache) lend(rel string) (*Dir, error) {
	rel = filepath.Clean(rel)
	real := c.real()
	if real == "" {
		return c.root.OpenDir(rel)
	}
	c.mu.Lock()
	if e := c.ents[rel]; e != nil {
		e.refs++
		if e.elem != nil {
			c.idle.Remove(e.elem)
			e.elem = nil
		}
		c.mu.Unlock()
		if whereIs(e.dir.sys) == filepath.Join(real, rel) {
			return e.handle(), nil
		}
		c.mu.Lock()
		c.evict(e)
		c.mu.Unlock()
		c.giveBack(e)
	} else {
		c.mu.Unlock()
	}
	d, err := c.root.OpenDir(rel)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.ents[rel] != nil {
		return d, nil // not shared: closed by its user
	}
	e := &cacheEntry{cache: c, rel: rel, dir: d, refs: 1}
	c.ents[rel] = e
	return e.handle(), nil
}

// handle is a Dir for one user of e; its Close gives e back.
func (e *cacheEntry) handle() *Dir {
	return &Dir{sys: e.dir.sys, path: e.dir.path, lent: e}
}

// giveBack ends one use of e: unused, it joins the idle list (the oldest
// idle entry beyond maxIdleDirs is closed), or is closed if out of the
// cache.
func (c *dirCache) giveBack(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.refs--; e.refs > 0 {
		return
	}
	if e.gone {
		e.dir.sys.close()
		return
	}
	e.elem = c.idle.PushFront(e)
	if c.idle.Len() > maxIdleDirs {
		c.evict(c.idle.Back().Value.(*cacheEntry))
	}
}

// evict takes e out of the cache, closing it if nobody uses it. c.mu is
// held.
func (c *dirCache) evict(e *cacheEntry) {
	if e.gone {
		return
	}
	e.gone = true
	if c.ents[e.rel] == e {
		delete(c.ents, e.rel)
	}
	if e.elem != nil {
		c.idle.Remove(e.elem)
		e.elem = nil
	}
	if e.refs == 0 {
		e.dir.sys.close()
	}
}

// close closes every directory kept; those still in use are closed when
// given back.
func (c *dirCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, e := range c.ents {
		c.evict(e)
	}
}

// openParentDir opens the directory rel below d for OpenParent: through
// d's cache when d is a root.
func (d *Dir) openParentDir(rel string) (*Dir, error) {
	if d.root == nil {
		return d.OpenDir(rel)
	}
	return d.root.cache.lend(rel)
}
