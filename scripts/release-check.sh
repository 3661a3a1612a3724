#!/usr/bin/env bash
# release-check.sh: builds the release twice, the second time from a copy of
# the source at another path (so every cvv package is compiled again), and
# fails unless both SHA256SUMS are identical: the release is reproducible.
# Then checks that the linux/amd64 binary is static and says its version.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
export COMMIT=${COMMIT:-$(git rev-parse HEAD)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
scripts/release.sh "$work/a" >/dev/null
mkdir "$work/src"
git ls-files -z | xargs -0 cp -a --parents -t "$work/src"
"$work/src/scripts/release.sh" "$work/b" >/dev/null
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
"$bin" --version | grep -qx "cvv $VERSION" || { "$bin" --version; echo "release-check: $bin --version does not say $VERSION" >&2; exit 1; }
"$bin" --version | grep -qx "commit:   $COMMIT" || { echo "release-check: $bin --version does not say commit $COMMIT" >&2; exit 1; }
tar -tzf "$work/a/cvv-$VERSION-share.tar.gz" | grep -qx "cvv-$VERSION/share/man/man1/cvv.1"
cat "$work/a/SHA256SUMS"
echo "release-check: reproducible, static, version $VERSION"
