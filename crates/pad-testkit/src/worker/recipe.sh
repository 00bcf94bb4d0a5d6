#!/bin/sh
# The worker image's recipe: a minimal Debian bookworm root filesystem with what a
# worker host has (sshd, sudo, Debian's /usr/bin/python3.11, tar, coreutils).
# `cargo xtask worker` and the tests tag the image with a hash of this file, so it is
# built once and rebuilt only when this file changes.
#
# Usage: recipe.sh ROOTFS MIRROR   (run as root; ROOTFS must not exist)
set -eu
rootfs=$1
mirror=$2

debootstrap --variant=minbase --include=openssh-server,sudo,python3,ca-certificates \
    bookworm "$rootfs" "$mirror"

# Every worker gets its own host key at start; none is baked into the image.
rm -f "$rootfs"/etc/ssh/ssh_host_*
# sshd's privilege separation directory.
mkdir -p "$rootfs/run/sshd"
# Nothing on a worker installs packages: drop the downloaded .debs and lists.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# The interpreter the test environments are built with on the host.
test -x "$rootfs/usr/bin/python3.11"
