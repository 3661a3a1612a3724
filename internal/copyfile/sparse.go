package copyfile

import (
	"errors"
	"os"
)

// Layout is where a source file's data lies, so that a copy reads and
// writes only the data and leaves the holes of a sparse file as holes: the
// destination gets them by its size (ftruncate) and by nothing being
// written there, and the hash counts them as the zeros a read would give.
// Both engines and their Hash (verification) walk a file through it, so a
// source and its copy hash alike whatever their holes.
//
// A file whose allocated blocks cover its size is dense: Next gives it as
// one region with no lseek at all. A filesystem that cannot say where the
// holes are (no SEEK_DATA) gives the whole file as data.
type Layout struct {
	f      *os.File
	size   int64
	sparse bool
}

// NewLayout returns the layout of f, which is fi.
func NewLayout(f *os.File, fi os.FileInfo) *Layout {
	return &Layout{f: f, size: fi.Size(), sparse: mayHaveHoles(fi)}
}

// Sparse reports whether the file may have holes (fewer bytes allocated
// than its size); a copy then neither preallocates its destinations nor
// writes its holes.
func (l *Layout) Sparse() bool { return l.sparse }

// Prealloc returns how many bytes to preallocate for each copy of the
// file written through the page cache, block bytes at a time: its size,
// or 0 where preallocation buys nothing. A sparse file's copy gets
// blocks for its data only. A file of one block or less is written by
// one write, which delayed allocation allocates in one piece anyway; the
// free space was checked before the copy, and a write that finds the
// filesystem full fails as a fallocate would. For a tree of small files
// that is one system call less per file and destination. (O_DIRECT
// writes are another matter: on ext4 one past the end of a file with no
// blocks cost more than the fallocate, so the io_uring engine keeps it.)
func (l *Layout) Prealloc(block int) int64 {
	if l.sparse || l.size <= int64(block) {
		return 0
	}
	return l.size
}

// Next returns the region [start, end) to read next at or after off: the
// bytes from off to start are a hole (zeros, not read or written). With
// no data left, start and end are the size of the file. The region is
// widened to multiples of align (an O_DIRECT alignment; 1 for none), never
// before off or past the end of the file: the bytes added are zeros that
// the source reads back, so reading and writing them is harmless.
func (l *Layout) Next(off int64, align int) (start, end int64) {
	if off >= l.size {
		return l.size, l.size
	}
	if !l.sparse {
		return off, l.size
	}
	start, end, ok := dataRegion(l.f, off, l.size)
	if !ok {
		return off, l.size
	}
	a := int64(max(align, 1))
	start = max(off, start/a*a)
	end = min(l.size, (end+a-1)/a*a)
	return start, end
}

// Resize sets the length of a destination file f to size: it cuts a
// padded O_DIRECT tail, and gives the copy of a sparse source the holes it
// ends with. A filesystem that cannot extend a file by ftruncate (fusefat
// refuses with EPERM) still can by a write past the end, which fills the
// gap with zeros: Resize then writes the last byte, a zero, buffered.
func Resize(f *os.File, size int64) error {
	err := f.Truncate(size)
	if err == nil {
		return nil
	}
	fi, serr := f.Stat()
	switch {
	case serr == nil && fi.Size() == size:
		return nil // fusefat refuses even a truncate that changes nothing
	case serr != nil || fi.Size() > size:
		return err
	}
	if derr := clearDirect(f); derr != nil {
		return errors.Join(err, derr)
	}
	if _, werr := f.WriteAt([]byte{0}, size-1); werr != nil {
		return errors.Join(err, werr)
	}
	return nil
}
