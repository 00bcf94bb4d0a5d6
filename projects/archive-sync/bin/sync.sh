#!/bin/sh
# Copy the files listed in MANIFEST from SOURCE to DEST.
#
#   sh sync.sh SOURCE DEST MANIFEST
#
# MANIFEST holds one path per line, relative to SOURCE (as written by
# `python -m archive_sync plan`). Each file is copied to a temporary name next
# to its destination and then renamed into place, so DEST never holds a
# partial file. Files already identical in DEST (cmp) are skipped. Files that
# exist only in DEST are left alone. Needs only sh, coreutils and cmp.
set -eu

prog=sync.sh

die() {
    echo "$prog: $*" >&2
    exit 1
}

if [ "$#" -ne 3 ]; then
    echo "usage: $prog SOURCE DEST MANIFEST" >&2
    exit 2
fi
source_dir=$1
dest_dir=$2
manifest=$3

[ -d "$source_dir" ] || die "source is not a directory: $source_dir"
[ -f "$manifest" ] || die "manifest is not a file: $manifest"
mkdir -p -- "$dest_dir"

tmp=
cleanup() {
    if [ -n "$tmp" ]; then
        rm -f -- "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

copied=0
skipped=0
while IFS= read -r rel || [ -n "$rel" ]; do
    [ -n "$rel" ] || continue
    case $rel in
        /* | .. | ../* | */.. | */../*)
            die "refusing path outside SOURCE: $rel" ;;
    esac
    src=$source_dir/$rel
    dst=$dest_dir/$rel
    [ -f "$src" ] || die "not a file in SOURCE: $rel"
    [ ! -d "$dst" ] || die "a directory is in the way in DEST: $rel"

    if [ -f "$dst" ] && cmp -s -- "$src" "$dst"; then
        skipped=$((skipped + 1))
        continue
    fi

    dst_dir=$(dirname -- "$dst")
    mkdir -p -- "$dst_dir"
    tmp=$dst_dir/.sync-tmp.$$
    cp -p -- "$src" "$tmp"
    mv -f -- "$tmp" "$dst"
    tmp=
    copied=$((copied + 1))
done <"$manifest"

echo "$prog: copied $copied, skipped $skipped identical, into $dest_dir"
