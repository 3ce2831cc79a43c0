#!/usr/bin/env bash
# Build hagent in release mode (build-release/) and run the benchmark,
# passing all arguments through to build-release/bench/hagent-bench.
# Dependency and build output goes to stderr; stdout is the benchmark's.
set -euo pipefail

cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >&2

dir=build-release
if [[ ! -f $dir/meson-private/coredata.dat ]]; then
  meson setup "$dir" --buildtype=release >&2
fi
meson compile -C "$dir" >&2

bench=$dir/bench/hagent-bench
if [[ ! -x $bench ]]; then
  echo "run-bench: $bench was not built (is bench/ wired into meson.build?)" >&2
  exit 1
fi

exec "$bench" "$@"
