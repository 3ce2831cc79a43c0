#!/usr/bin/env bash
# Build hagent in release mode (build-release/) and run the benchmarks,
# passing all arguments (--quick, --runs N) through to each:
# build-release/bench/hagent-bench (the shared-memory layer), then
# build-release/bench/hagent-bench-notify (notification ports), then
# build-release/bench/hagent-bench-agent (hagentd with real monitors).
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
notify_bench=$dir/bench/hagent-bench-notify
agent_bench=$dir/bench/hagent-bench-agent
for b in "$bench" "$notify_bench" "$agent_bench"; do
  if [[ ! -x $b ]]; then
    echo "run-bench: $b was not built (is bench/ wired into meson.build?)" >&2
    exit 1
  fi
done

status=0
"$bench" "$@" || status=$?
echo
"$notify_bench" "$@" || status=$?
echo
"$agent_bench" "$@" || status=$?
exit "$status"
