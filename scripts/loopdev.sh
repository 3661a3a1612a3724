#!/usr/bin/env bash
# loopdev.sh: separate block devices for the benchmark, one per name, as loop
# devices (--direct-io=on) over files in a dedicated tmpfs, formatted ext4 and
# mounted. This is what an array of NVMe drives looks like to a copy tool: each
# destination has its own device queue and its own filesystem.
#
#   scripts/loopdev.sh up   STATE_DIR NAME:SIZE_MiB...   # e.g. src:4700 d1:2400 d2:2400 d3:2400
#   scripts/loopdev.sh down STATE_DIR
#   scripts/loopdev.sh list STATE_DIR                     # "NAME DEVICE MOUNTPOINT" lines
#
# Mount points are STATE_DIR/mnt/NAME. `up` first runs `down`, so both are
# idempotent; `down` undoes whatever a crashed run left behind (it finds the
# loop devices by their backing files). Needs root, losetup and mkfs.ext4.
# MKFS=xfs formats xfs instead.
set -euo pipefail

die() { echo "loopdev: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 up|down|list STATE_DIR [NAME:SIZE_MiB...]"
cmd=$1 state=$2
shift 2

down() {
	local m img dev
	if [ -d "$state/mnt" ]; then
		for m in "$state"/mnt/*; do
			[ -d "$m" ] || continue
			if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
			rmdir "$m" 2>/dev/null || true
		done
		rmdir "$state/mnt" 2>/dev/null || true
	fi
	if [ -d "$state/backing" ]; then
		for img in "$state"/backing/*.img; do
			[ -e "$img" ] || continue
			for dev in $(losetup -j "$img" -O NAME -n 2>/dev/null); do
				losetup -d "$dev" || true
			done
		done
		if mountpoint -q "$state/backing"; then umount "$state/backing"; fi
		rm -rf "$state/backing"
	fi
	rm -f "$state/devices"
}

up() {
	[ "$(id -u)" -eq 0 ] || die "loop devices need root"
	command -v losetup >/dev/null || die "losetup not found (apt-get install util-linux)"
	local fs=${MKFS:-ext4}
	command -v "mkfs.$fs" >/dev/null || die "mkfs.$fs not found"
	[ $# -ge 1 ] || die "up: no NAME:SIZE_MiB given"
	down
	local total=64 spec name size
	for spec in "$@"; do
		size=${spec#*:}
		[[ $size =~ ^[0-9]+$ ]] || die "bad size in $spec"
		total=$((total + size))
	done
	mkdir -p "$state/backing" "$state/mnt"
	mount -t tmpfs -o "size=${total}m,mode=0700" cvv-bench-loop "$state/backing"
	: >"$state/devices"
	local dev img opts
	for spec in "$@"; do
		name=${spec%%:*} size=${spec#*:}
		img="$state/backing/$name.img"
		truncate -s "${size}M" "$img"
		dev=$(losetup --direct-io=on --find --show "$img")
		if [ "$(cat "/sys/block/${dev#/dev/}/loop/dio" 2>/dev/null || echo 0)" != 1 ]; then
			echo "loopdev: warning: $dev does not do direct I/O on its backing file" >&2
		fi
		case $fs in
		ext4) mkfs.ext4 -q -F -m 0 -E lazy_itable_init=0,lazy_journal_init=0 "$dev" ;;
		xfs) mkfs.xfs -q -f "$dev" ;;
		*) mkfs."$fs" "$dev" ;;
		esac
		mkdir -p "$state/mnt/$name"
		# discard: a deleted copy punches holes in the backing file, so
		# that it does not stay in the tmpfs (in RAM) until the teardown.
		opts=noatime,discard
		mount -o "$opts" "$dev" "$state/mnt/$name"
		echo "$name $dev $state/mnt/$name" >>"$state/devices"
	done
	cat "$state/devices"
}

case $cmd in
up) up "$@" ;;
down) down ;;
list) [ -f "$state/devices" ] && cat "$state/devices" ;;
*) die "unknown command $cmd (want up, down or list)" ;;
esac
