package plan

import (
	"fmt"
	"path/filepath"
)

// Filesystem is the space needed on one destination filesystem.
type Filesystem struct {
	// ID identifies the filesystem (its st_dev).
	ID uint64
	// MountPoint is the top directory of the filesystem, found by walking up
	// from a destination while the device stays the same.
	MountPoint string
	// Need is the number of bytes the planned writes take, rounded up to the
	// filesystem's block size file by file, summed over every destination on
	// this filesystem.
	Need int64
	// Avail is the space available to an unprivileged writer, in bytes;
	// -1 when the filesystem does not say (it reports no size at all).
	Avail int64
	// Dests are the indexes of the destinations on this filesystem.
	Dests []int
}

// Short reports whether the filesystem lacks space, and by how much. A
// filesystem whose space is not known is never short.
func (f *Filesystem) Short() (int64, bool) {
	if f.Avail >= 0 && f.Need > f.Avail {
		return f.Need - f.Avail, true
	}
	return 0, false
}

// String describes the shortfall in one line.
func (f *Filesystem) String() string {
	short, _ := f.Short()
	return fmt.Sprintf("not enough space on the filesystem mounted at %s: need %s, %s available (short by %s)",
		f.MountPoint, HumanBytes(f.Need), HumanBytes(f.Avail), HumanBytes(short))
}

// Space groups the writes by destination filesystem. dirs[i] is a path of
// destination i (it need not exist yet: its nearest existing ancestor is
// examined); sizes calls add with the size of each file to write to
// destination i, as a pass over the files finds them (nothing per file
// is kept).
func Space(dirs []string, sizes func(add func(i int, size int64))) ([]*Filesystem, error) {
	var out []*Filesystem
	byID := make(map[uint64]*Filesystem)
	dest := make([]*Filesystem, len(dirs))
	block := make([]int64, len(dirs))
	for i, d := range dirs {
		existing := nearestExisting(d)
		st, err := statFS(existing)
		if err != nil {
			return nil, err
		}
		f := byID[st.id]
		if f == nil {
			mp, err := mountPoint(existing, st.id)
			if err != nil {
				return nil, err
			}
			f = &Filesystem{ID: st.id, MountPoint: mp, Avail: st.avail}
			byID[st.id] = f
			out = append(out, f)
		}
		f.Dests = append(f.Dests, i)
		dest[i], block[i] = f, st.blockSize
		if block[i] <= 0 {
			block[i] = 4096
		}
	}
	sizes(func(i int, n int64) {
		bs := block[i]
		dest[i].Need += (n + bs - 1) / bs * bs
	})
	return out, nil
}

// nearestExisting returns path or its closest ancestor that exists.
func nearestExisting(path string) string {
	p := filepath.Clean(path)
	for {
		if _, err := lstatDev(p); err == nil {
			return p
		}
		parent := filepath.Dir(p)
		if parent == p {
			return p
		}
		p = parent
	}
}

// mountPoint walks up from path while the device stays id.
func mountPoint(path string, id uint64) (string, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for {
		parent := filepath.Dir(p)
		if parent == p {
			return p, nil
		}
		dev, err := lstatDev(parent)
		if err != nil || dev != id {
			return p, nil
		}
		p = parent
	}
}

// HumanBytes formats n in binary units: "512 B", "1.5 KiB", "3.2 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit || m <= -unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
