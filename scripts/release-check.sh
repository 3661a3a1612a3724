#!/usr/bin/env bash
# release-check.sh: builds the release twice, from two copies of the source
# at two paths (so every cvv package is compiled again), and fails unless
# both SHA256SUMS are identical: the release is reproducible. TARGETS
# narrows the platforms (scripts/release.sh).
# Then checks that the linux/amd64 binary is static and says its version.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
export COMMIT=${COMMIT:-$(git rev-parse HEAD)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
# Two copies of the source taken at once, at two paths, so that an edit
# made during the builds cannot make them differ.
for d in src1 other/src2; do
	mkdir -p "$work/$d"
	git ls-files -z | xargs -0 cp -a --parents -t "$work/$d"
done
"$work/src1/scripts/release.sh" "$work/a" >/dev/null
"$work/other/src2/scripts/release.sh" "$work/b" >/dev/null
if ! cmp "$work/a/SHA256SUMS" "$work/b/SHA256SUMS"; then
	diff "$work/a/SHA256SUMS" "$work/b/SHA256SUMS" || true
	echo "release-check: two builds of the same source differ" >&2
	exit 1
fi
(cd "$work/a" && sha256sum -c --quiet SHA256SUMS)
bin=$(ls "$work"/a/cvv-*-linux-amd64)
if ! file "$bin" | grep -q 'statically linked'; then
	file "$bin"
	echo "release-check: $bin is not static" >&2
	exit 1
fi
# (Captured first: with pipefail, grep -q closing the pipe early would fail
# the pipeline.)
ver=$("$bin" --version)
grep -qx "cvv $VERSION" <<<"$ver" || { echo "$ver"; echo "release-check: $bin --version does not say $VERSION" >&2; exit 1; }
grep -qx "commit:   $COMMIT" <<<"$ver" || { echo "release-check: $bin --version does not say commit $COMMIT" >&2; exit 1; }
files=$(tar -tzf "$work/a/cvv-$VERSION-share.tar.gz")
grep -qx "cvv-$VERSION/share/man/man1/cvv.1" <<<"$files" || { echo "release-check: no man page in the share tarball" >&2; exit 1; }
cat "$work/a/SHA256SUMS"
echo "release-check: reproducible, static, version $VERSION"
