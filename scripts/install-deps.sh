#!/usr/bin/env bash
# Install the Debian 12 packages hagent needs to build, test and benchmark.
# Idempotent: does nothing (and needs no root) when everything is present.
set -euo pipefail

# Keep the whole list here; later changes only need to add to this array.
PACKAGES=(
  build-essential
  meson
  ninja-build
  pkg-config
  check
  liburcu-dev
  libsystemd-dev
  libsqlite3-dev
  # tests/fuzz/run-fuzz.sh: clang with libFuzzer (clang only recommends libclang-rt-14-dev)
  clang
  libclang-rt-14-dev
  # tests/systemd/nspawn-test.sh: a Debian tree booted with systemd as PID 1
  debootstrap
  systemd-container
)

is_installed() {
  local status
  # shellcheck disable=SC2016  # ${Status} is a dpkg-query field, not a shell variable
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ $status == "install ok installed" ]]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: dpkg-query not found; this script supports Debian/Ubuntu only" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"

SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    # Never hang on a password prompt when there is no terminal (CI).
    if [[ -t 0 ]]; then
      SUDO=(sudo)
    else
      SUDO=(sudo -n)
    fi
  else
    echo "install-deps: not root and sudo is not available; install as root:" >&2
    echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

log=$(mktemp "${TMPDIR:-/tmp}/hagent-install-deps.XXXXXX.log")

fail() {
  echo "install-deps: $1 failed; last lines of $log:" >&2
  tail -n 30 "$log" >&2 || true
  exit 1
}

echo "install-deps: apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1 ||
  fail "apt-get update"

echo "install-deps: apt-get install ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 \
  "${missing[@]}" >>"$log" 2>&1 ||
  fail "apt-get install"

still=()
for pkg in "${missing[@]}"; do
  is_installed "$pkg" || still+=("$pkg")
done
if ((${#still[@]} > 0)); then
  echo "install-deps: still missing after install: ${still[*]}" >>"$log"
  fail "installing ${still[*]}"
fi

rm -f "$log"
echo "install-deps: installed ${#missing[@]} package(s); all ${#PACKAGES[@]} packages present"
