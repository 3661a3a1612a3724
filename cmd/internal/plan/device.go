package plan

import (
	"slices"
	"sort"
	"strings"

	"github.com/cvv-project/cvv"
)

// SharedDevice is a group of destinations whose filesystems sit on the same
// storage: they compete for its bandwidth, and a copy to all of them is no
// faster than the device allows.
type SharedDevice struct {
	// Device names the storage, as the kernel does ("vda", "nvme0n1";
	// several names joined by "+" for a RAID or volume over several disks).
	Device string
	// Dests are the indices of the destinations, in command-line order.
	Dests []int
}

// SharedDevices returns the groups of two or more destinations that are on
// the same storage device: partitions of one disk, or logical volumes over
// the same disks. Filesystems without a block device of their own (tmpfs,
// FUSE, network filesystems, btrfs subvolumes) are never grouped: cvv
// cannot tell what they share.
func (p *Plan) SharedDevices() []SharedDevice {
	groups := map[string][]int{}
	var order []string
	for i, d := range p.Dests {
		disks := storageDisks(d.place.existing.Dev)
		if len(disks) == 0 {
			continue
		}
		sort.Strings(disks)
		key := strings.Join(disks, "+")
		if groups[key] == nil {
			order = append(order, key)
		}
		groups[key] = append(groups[key], i)
	}
	var out []SharedDevice
	for _, key := range order {
		if len(groups[key]) > 1 {
			out = append(out, SharedDevice{Device: key, Dests: groups[key]})
		}
	}
	return out
}

// WriteChoice is how one destination is written and why.
type WriteChoice struct {
	// Path is cvv.WriteBuffered or cvv.WriteDirect (cvv.WriteAuto when a
	// path was forced: the engine's default).
	Path cvv.WritePath
	// Why says what the choice rests on, for -v and the JSON start event.
	Why string
	// SmallBuffered sends the files under SmallFile through the page
	// cache although Path is cvv.WriteDirect (ForFile).
	SmallBuffered bool
}

// SmallFile is the size under which a file bound for a destination that
// auto writes with O_DIRECT goes through the page cache instead. Such a
// file is read in one block: O_DIRECT saves it little (one copy of less
// than a block, no dirty memory to speak of), and costs it a lot per file.
// Its last block is written padded to the alignment, and the ftruncate
// that cuts the padding makes ext4 read that block back from the media
// to zero the rest of it (ext4_block_zero_page_range, ext4_read_bh): 5-7%
// of all CPU samples of a 10,000-file tree on the loop rig
// (docs/bench/perf-20261203). The page cache writes the exact length,
// and the fdatasync before the rename still puts it on the media.
const SmallFile = 1 << 20

// ForFile returns how a file of size bytes is written to the destination.
func (c WriteChoice) ForFile(size int64) cvv.WritePath {
	if c.SmallBuffered && size < SmallFile {
		return cvv.WriteBuffered
	}
	return c.Path
}

// WritePaths chooses how each destination is written when forced is
// cvv.WriteAuto: through the page cache (cvv.WriteBuffered) when its
// filesystem is the source's or another destination's, or sits on the
// same disks; with O_DIRECT (cvv.WriteDirect) on storage of its own,
// except for files under SmallFile (WriteChoice.ForFile). The
// rule was chosen by measurement (scripts/bench.sh, issue 12): on one
// shared device O_DIRECT writes alternate with the reads block by block
// and lose to cp, page-cache writes let writeback send them in bulk; on a
// device of its own O_DIRECT costs no copy and no memory. A forced path
// applies to every destination.
func (p *Plan) WritePaths(forced cvv.WritePath) []WriteChoice {
	out := make([]WriteChoice, len(p.Dests))
	if forced != cvv.WriteAuto {
		for i := range out {
			out[i] = WriteChoice{Path: forced, Why: "--write " + forced.String()}
		}
		return out
	}
	devs := make([]uint64, len(p.Dests)+1)
	disks := make([][]string, len(p.Dests)+1)
	devs[0], disks[0] = p.source.existing.Dev, storageDisks(p.source.existing.Dev)
	for i, d := range p.Dests {
		devs[i+1], disks[i+1] = d.place.existing.Dev, storageDisks(d.place.existing.Dev)
	}
	for i := range p.Dests {
		out[i] = WriteChoice{Path: cvv.WriteDirect, Why: "on storage of its own; files under 1 MiB through the page cache", SmallBuffered: true}
		for j := range devs {
			if j == i+1 {
				continue
			}
			what := "the source"
			if j > 0 {
				what = "destination " + p.Dests[j-1].Arg
			}
			if why := sharedWith(devs[i+1], devs[j], disks[i+1], disks[j]); why != "" {
				out[i] = WriteChoice{Path: cvv.WriteBuffered, Why: why + " with " + what}
				break
			}
		}
	}
	return out
}

// sharedWith says how two filesystems (devices a and b, on disks da and db)
// share storage, "" if they do not.
func sharedWith(a, b uint64, da, db []string) string {
	if a == b {
		return "shares its filesystem"
	}
	for _, x := range da {
		if slices.Contains(db, x) {
			return "shares the device " + x
		}
	}
	return ""
}
