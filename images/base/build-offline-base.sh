#!/usr/bin/env bash
# Build the offline base image: a Debian rootfs made by debootstrap from the Debian
# archive, imported with `docker import`. Needs no container registry, so it works on
# machines (and air-gapped centres) that reach only a Debian mirror.
#
#   images/base/build-offline-base.sh [TAG]     (default tag: dataterra-vre/base:bookworm)
#
# Environment: VRE_DEBIAN_SUITE (bookworm), VRE_DEBIAN_MIRROR (the host's apt mirror).
set -euo pipefail
tag=${1:-dataterra-vre/base:bookworm}
suite=${VRE_DEBIAN_SUITE:-bookworm}
mirror=${VRE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the user image needs from Debian; Python packages come from PyPI in the Dockerfile.
packages=python3,python3-venv,python3-dev,ca-certificates,tini,git,less,locales,tzdata,libgomp1,build-essential,curl

command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install -y debootstrap" >&2; exit 1; }
work=$(mktemp -d /var/tmp/vre-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "debootstrap $suite from $mirror into $work"
debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; echo "debootstrap failed (log above)" >&2; exit 1; }
# Trim what a container never needs.
rm -rf "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/lib/apt/lists/*
echo "docker import -> $tag"
tar -C "$work/rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --change "LABEL org.opencontainers.image.title=dataterra-vre-base org.opencontainers.image.source=debootstrap:$suite" \
  - "$tag"
docker image inspect --format '{{.Id}} {{.Size}}' "$tag"
