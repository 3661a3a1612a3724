#!/usr/bin/env bash
# release.sh: the release artifacts, reproducibly. Usage: scripts/release.sh [DIR]
# (default dist). Writes into DIR:
#   cvv-VERSION-OS-ARCH       static binaries (CGO_ENABLED=0): linux/amd64,
#                             linux/arm64 (io_uring), darwin and freebsd
#                             (portable engine)
#   cvv-VERSION-share.tar.gz  the man page and the bash, zsh and fish
#                             completions (share/man/man1/cvv.1, ...)
#   SHA256SUMS                sha256sum -c checks them
# Two runs on the same commit give the same bytes: -trimpath, an empty build
# id, no VCS stamp but the one given by -X, file times and tar metadata fixed
# to the commit's time (SOURCE_DATE_EPOCH overrides it). VERSION defaults to
# git describe.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
go=${GO:-go}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
commit=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
pkg=github.com/cvv-project/cvv/cmd/internal/command
# -checklinkname=0: github.com/iceber/iouring-go links only with it (see the
# Makefile); it is given here, not through GOFLAGS, with the other flags.
ldflags="-checklinkname=0 -buildid= -s -w -X $pkg.version=$version -X $pkg.commit=$commit"
targets=${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64}

rm -rf "$out"
mkdir -p "$out"
export CGO_ENABLED=0 GOFLAGS=
for t in $targets; do
	os=${t%/*} arch=${t#*/}
	echo "release: $version $os/$arch"
	GOOS=$os GOARCH=$arch "$go" build -trimpath -buildvcs=false -ldflags="$ldflags" \
		-o "$out/cvv-$version-$os-$arch" ./cmd/cvv
done

share=$(mktemp -d)
trap 'rm -rf "$share"' EXIT
"$go" run -ldflags=-checklinkname=0 ./cmd/internal/gendoc "$share/gen"
mkdir -p "$share/cvv-$version/share/man/man1" "$share/cvv-$version/share/bash-completion/completions" \
	"$share/cvv-$version/share/zsh/site-functions" "$share/cvv-$version/share/fish/vendor_completions.d"
cp "$share/gen/man/man1/cvv.1" "$share/cvv-$version/share/man/man1/cvv.1"
cp "$share/gen/completion/cvv.bash" "$share/cvv-$version/share/bash-completion/completions/cvv"
cp "$share/gen/completion/_cvv" "$share/cvv-$version/share/zsh/site-functions/_cvv"
cp "$share/gen/completion/cvv.fish" "$share/cvv-$version/share/fish/vendor_completions.d/cvv.fish"
find "$share/cvv-$version" -exec chmod u=rwX,go=rX {} + -exec touch -h -d "@$epoch" {} +
tar -C "$share" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
	--format=gnu -cf - "cvv-$version" | gzip -n -9 >"$out/cvv-$version-share.tar.gz"

(cd "$out" && sha256sum cvv-* >SHA256SUMS)
touch -d "@$epoch" "$out"/*
cat "$out/SHA256SUMS"
