package command

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// verifyItem is one path of a verification: the file the walk found
// there (nil when none) and what the records expect of it, in record
// order.
type verifyItem struct {
	path  string
	entry *plan.Entry
	exps  []expectation
}

// cursor is the next value of a sequence being merged.
type cursor[T any] struct {
	next func() (T, error, bool)
	stop func()
	v    T
	ok   bool
	last string // the path of the value before, to check the order
}

func newCursor[T any](seq iter.Seq2[T, error]) *cursor[T] {
	next, stop := iter.Pull2(seq)
	return &cursor[T]{next: next, stop: stop}
}

// advance moves to the next value, whose path (pathOf) must not be
// below the one before: every merged sequence is in path order.
func (c *cursor[T]) advance(pathOf func(T) string) error {
	var err error
	c.v, err, c.ok = c.next()
	if err != nil {
		c.ok = false
		return err
	}
	if c.ok {
		p := pathOf(c.v)
		if c.last != "" && p < c.last {
			return fmt.Errorf("%q comes after %q: not in path order", p, c.last)
		}
		c.last = p
	}
	return nil
}

// items merges the walk of the tree (plan.Scan, in path order) with the
// expectations of every record (each in path order) into one item per
// path, in path order, holding one value of each sequence at a time. A
// recorded file the walk left out (--exclude) is looked up on its own.
// The first error (a walk problem, a record that cannot be read again)
// ends the sequence and is stored in *errp.
func (in *verifyInput) items(ctx context.Context, errp *error) iter.Seq[verifyItem] {
	return func(yield func(verifyItem) bool) {
		walk := newCursor(in.walkFiles(ctx))
		defer walk.stop()
		entryPath := func(e plan.Entry) string { return filepath.ToSlash(e.Rel) }
		expPath := func(e expectation) string { return e.path }
		recs := make([]*cursor[expectation], len(in.records))
		fail := func(err error) { *errp = err }
		if err := walk.advance(entryPath); err != nil {
			fail(err)
			return
		}
		for i, r := range in.records {
			recs[i] = newCursor(r.expected)
			defer recs[i].stop()
			if err := recs[i].advance(expPath); err != nil {
				fail(fmt.Errorf("%s: %w", r.path, err))
				return
			}
		}
		for {
			it, ok := verifyItem{}, false
			if walk.ok {
				it.path, ok = entryPath(walk.v), true
			}
			for _, c := range recs {
				if c.ok && (!ok || c.v.path < it.path) {
					it.path, ok = c.v.path, true
				}
			}
			if !ok {
				return
			}
			if walk.ok && entryPath(walk.v) == it.path {
				e := walk.v
				it.entry = &e
				if err := walk.advance(entryPath); err != nil {
					fail(err)
					return
				}
			}
			for i, c := range recs {
				for c.ok && c.v.path == it.path {
					it.exps = append(it.exps, c.v)
					if err := c.advance(expPath); err != nil {
						fail(fmt.Errorf("%s: %w", in.records[i].path, err))
						return
					}
				}
			}
			if it.entry == nil && len(it.exps) > 0 {
				it.entry = in.lookUp(it.path)
			}
			if !yield(it) {
				return
			}
		}
	}
}

// lookUp returns the regular file at rel when the walk left it out (a
// file --exclude matched that a record lists is still checked), else nil.
func (in *verifyInput) lookUp(rel string) *plan.Entry {
	st, err := os.Lstat(filepath.Join(in.root, filepath.FromSlash(rel)))
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	e := plan.EntryOf(filepath.FromSlash(rel), st)
	return &e
}

// walkFiles yields the regular files of the tree in path order (every
// name of a hard-linked file); an entry that cannot be walked ends it
// with its error.
func (in *verifyInput) walkFiles(ctx context.Context) iter.Seq2[plan.Entry, error] {
	return func(yield func(plan.Entry, error) bool) {
		errStop := errors.New("stop")
		_, err := plan.Scan(ctx, in.root, plan.WalkOptions{Excludes: in.ex, Skip: in.skip}, func(f *plan.Found) error {
			if f.Err != nil {
				return f.Err
			}
			if f.Kind != plan.File {
				return nil
			}
			if !yield(f.Entry, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(plan.Entry{}, err)
		}
	}
}
