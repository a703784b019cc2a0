#!/bin/sh
# Downloads Mesa 25 from Debian bookworm-backports and unpacks it under $MESA_ROOT, without
# installing anything: a private apt state/cache under $MESA_DIR, `apt-get download`, `dpkg -x`.
# The system's Mesa, /usr and /etc/apt are left alone. Needs a Debian bookworm host with network.
#   MESA_DIR=/work/mesa25 sh bench/mesa/fetch.sh
# then: MESA_ROOT=/work/mesa25/root . bench/mesa/env.sh gl   (or vulkan)
set -eu
MESA_DIR=${MESA_DIR:-/work/mesa25}
MESA_VERSION=${MESA_VERSION:-25.0.7-2~bpo12+1}
DRM_VERSION=${DRM_VERSION:-2.4.123-1~bpo12+1}
mkdir -p "$MESA_DIR/apt/state/lists/partial" "$MESA_DIR/apt/cache/archives/partial" \
  "$MESA_DIR/debs" "$MESA_DIR/root"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$MESA_DIR/apt/sources.list" <<SOURCES
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm-backports main
SOURCES
cat >"$MESA_DIR/apt/apt.conf" <<CONF
Dir::Etc::sourcelist "$MESA_DIR/apt/sources.list";
Dir::Etc::sourceparts "-";
Dir::State "$MESA_DIR/apt/state";
Dir::State::status "/var/lib/dpkg/status";
Dir::Cache "$MESA_DIR/apt/cache";
Debug::NoLocking "true";
CONF
export APT_CONFIG="$MESA_DIR/apt/apt.conf"
apt-get update
# mesa-libgallium holds the drivers in Mesa 25; it links the system's libllvm15 (bookworm's), and
# needs libdrm >= 2.4.121 (backports). libvulkan1 is the Vulkan loader (bookworm's).
cd "$MESA_DIR/debs"
apt-get download \
  "mesa-libgallium=$MESA_VERSION" "libgl1-mesa-dri=$MESA_VERSION" "libegl-mesa0=$MESA_VERSION" \
  "libglx-mesa0=$MESA_VERSION" "libgbm1=$MESA_VERSION" "mesa-vulkan-drivers=$MESA_VERSION" \
  "libdrm2=$DRM_VERSION" "libdrm-amdgpu1=$DRM_VERSION" "libdrm-intel1=$DRM_VERSION" \
  "libdrm-common=$DRM_VERSION" libvulkan1
for deb in ./*.deb; do dpkg -x "$deb" "$MESA_DIR/root"; done
echo "unpacked into $MESA_DIR/root"
