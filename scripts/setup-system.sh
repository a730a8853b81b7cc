#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that Nestbox's build and tests need, only
# those that are missing. Idempotent: a second run installs nothing.
# Works as root, or as a normal user with sudo; explains itself otherwise.
set -euo pipefail

packages=(
  g++ make python3 pkg-config       # native addon build (node-gyp)
  doctest-dev                       # native unit tests
  clang libclang-rt-14-dev          # libFuzzer and sanitizer runtimes
  chromium                          # end-to-end tests (playwright-core drives it)
  fonts-dejavu-core                 # readable screenshots from headless Chromium
  qemu-utils                        # qemu-img: interoperability oracle in tests
  qemu-system-x86                   # benchmark peer only, never used at runtime
  busybox-static                    # initramfs for the real-kernel boot test
  cpio xz-utils zstd                # building the initramfs, unpacking kernels
  libslirp-dev zlib1g-dev libzstd-dev liburing-dev
  libglib2.0-bin                    # gio: the desktop trash the VM library deletes to
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all ${#packages[@]} system packages already installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || { [ -t 0 ] && command -v sudo >/dev/null 2>&1; }; then
  sudo=(sudo)
else
  echo "setup-system: these packages are missing: ${missing[*]}" >&2
  echo "setup-system: install them as root (or with sudo):" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: apt-get not found; Nestbox's setup supports Debian and Ubuntu." >&2
  echo "setup-system: install the equivalents of: ${missing[*]}" >&2
  exit 1
fi

echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-system: installed ${missing[*]}"
