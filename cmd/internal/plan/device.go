package plan

import (
	"sort"
	"strings"
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
