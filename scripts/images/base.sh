#!/usr/bin/env bash
# Builds the offline Debian base image: `debootstrap` a bookworm rootfs from this machine's own
# Debian mirror (no image registry involved), then `docker import` it.
#
#   scripts/images/base.sh            # -> socketlens-offline/debian:bookworm (skipped if present)
#
# Needs root, debootstrap and a running dockerd. Used by scripts/images/build.sh.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-socketlens-offline/debian:bookworm}

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "[images] $BASE_IMAGE present"
  exit 0
fi

# The mirror the host itself installs from (first deb.debian.org-style URI of its apt sources).
mirror=$(grep -hoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
  grep -oE 'https?://[^ ]+' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

rootfs=$(mktemp -d /tmp/socketlens-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "[images] debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
  { tail -n 20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

# The same suites as a stock Debian image: updates and security, so `apt-get install` in a
# Dockerfile gets current packages.
security=${mirror%/debian*}/debian-security
cat >"$rootfs/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SRC
# Like the official debian images: no docs, no apt caches left in layers.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/excludes" <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
CFG
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

tar -C "$rootfs" --numeric-owner -c . |
  docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE_IMAGE" >/dev/null
echo "[images] imported $BASE_IMAGE"
