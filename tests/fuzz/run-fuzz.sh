#!/usr/bin/env bash
# Build the group-expression fuzz target with clang and libFuzzer and run it
# for a bounded time on a copy of its seed corpus:
#   tests/fuzz/run-fuzz.sh [OUTDIR]      (default: build/tests/fuzz)
# FUZZ_SECONDS (default 60) bounds the run. The exit status is libFuzzer's
# (0 = nothing found); a crashing input is left in OUTDIR/artifacts/.
# FUZZ_CORPUS_OUT=DIR keeps the grown corpus there (to pick new seeds from).
# Without clang or libFuzzer this fails, unless HAGENT_FUZZ_OPTIONAL=1, in
# which case it exits 77 (skipped, for meson).
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$src/build/tests/fuzz}" && cd "${1:-$src/build/tests/fuzz}" && pwd)
seconds=${FUZZ_SECONDS:-60}
clang=${CLANG:-clang}

missing() {
  echo "run-fuzz: $1" >&2
  if [[ ${HAGENT_FUZZ_OPTIONAL:-0} == 1 ]]; then
    echo "run-fuzz: skipped (HAGENT_FUZZ_OPTIONAL=1)" >&2
    exit 77
  fi
  exit 1
}

command -v "$clang" >/dev/null 2>&1 ||
  missing "'$clang' not found; install the Debian packages clang and libclang-rt-14-dev"

work=$(mktemp -d "$out/run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# libFuzzer is in libclang-rt-14-dev, which clang only recommends.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' \
  >"$work/probe.c"
"$clang" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1 ||
  missing "$clang cannot link with -fsanitize=fuzzer (libclang_rt.fuzzer is missing; install libclang-rt-14-dev): $(tail -n 1 "$work/probe.log")"

bin=$out/fuzz-group-expr
"$clang" -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 \
  -I "$src/common" \
  "$src/common/group-expr.c" "$src/tests/fuzz/fuzz-group-expr.c" -o "$bin"

# A copy: libFuzzer adds what it finds to the first corpus directory.
cp -r "$src/tests/fuzz/corpus/group-expr" "$work/corpus"
# The grammar's tokens, so that mutations reach "and", "or" and the brackets.
cat >"$work/group-expr.dict" <<'DICT'
"and"
"AND"
" and "
"or"
" or "
"["
"]"
"{"
"}"
"("
")"
"[a]"
"\x00"
"\x09"
"\x0a"
DICT
mkdir -p "$out/artifacts"

echo "run-fuzz: $bin for ${seconds}s on a copy of tests/fuzz/corpus/group-expr ($(find "$work/corpus" -type f | wc -l) seeds)"
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
  "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -max_len=16384 -print_final_stats=1 \
  -dict="$work/group-expr.dict" -artifact_prefix="$out/artifacts/" "$work/corpus" || rc=$?
echo "run-fuzz: corpus grew to $(find "$work/corpus" -type f | wc -l) inputs; libFuzzer exit $rc"
if [[ -n ${FUZZ_CORPUS_OUT:-} ]]; then
  mkdir -p "$FUZZ_CORPUS_OUT"
  cp "$work/corpus"/* "$FUZZ_CORPUS_OUT"/
fi
exit "$rc"
