#!/usr/bin/env bash
# Build hagent and run its whole test suite, once per selected build:
#   normal: build/       debugoptimized, -Dwerror=true
#   asan:   build-asan/  debug, ASan + UBSan, -Dwerror=true
# Pick builds with HAGENT_TEST_BUILDS (default "normal asan").
# Every selected build is run even if an earlier one fails. The last line
# printed is "N passed, N failed" (", N skipped" appended when non-zero).
set -euo pipefail

cd "$(dirname "$0")/.."

read -r -a builds <<<"${HAGENT_TEST_BUILDS:-normal asan}"
if ((${#builds[@]} == 0)); then
  echo "run-tests: HAGENT_TEST_BUILDS selects no build" >&2
  exit 2
fi
for b in "${builds[@]}"; do
  case $b in
  normal | asan) ;;
  *)
    echo "run-tests: unknown build '$b' in HAGENT_TEST_BUILDS (known: normal asan)" >&2
    exit 2
    ;;
  esac
done

bash scripts/install-deps.sh

tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/hagent-run-tests.XXXXXX")
trap 'rm -rf "$tmpdir"' EXIT

total_passed=0
total_failed=0
total_skipped=0
status=0
results=()

# Print "ok expected_fail fail unexpected_pass skipped timeout" from the
# summary block of a captured `meson test` log. The last occurrence of each
# line wins, so test output shown by --print-errorlogs cannot fool it.
parse_meson_summary() {
  awk '
    { gsub(/\033\[[0-9;]*[A-Za-z]/, "") }
    /^Ok:[ \t]+[0-9]+/              { ok = $2 }
    /^Expected Fail:[ \t]+[0-9]+/   { xfail = $3 }
    /^Fail:[ \t]+[0-9]+/            { fail = $2 }
    /^Unexpected Pass:[ \t]+[0-9]+/ { xpass = $3 }
    /^Skipped:[ \t]+[0-9]+/         { skip = $2 }
    /^Timeout:[ \t]+[0-9]+/         { timeout = $2 }
    END { printf "%d %d %d %d %d %d\n", ok, xfail, fail, xpass, skip, timeout }
  ' "$1"
}

run_build() {
  local name=$1 dir
  local -a setup_args test_env test_args
  case $name in
  normal)
    dir=build
    setup_args=(--buildtype=debugoptimized -Dwerror=true)
    test_env=()
    test_args=()
    ;;
  asan)
    dir=build-asan
    setup_args=(--buildtype=debug "-Db_sanitize=address,undefined" -Db_lundef=false -Dwerror=true)
    test_env=(
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    )
    test_args=(--timeout-multiplier 3)
    ;;
  esac

  echo "=== run-tests [$name]: build in $dir/ ==="
  local built=1
  if [[ ! -f $dir/meson-private/coredata.dat ]]; then
    meson setup "$dir" "${setup_args[@]}" || built=0
  fi
  if ((built)); then
    meson compile -C "$dir" || built=0
  fi
  if ((!built)); then
    echo "=== run-tests [$name]: BUILD FAILED ==="
    results+=("$name: build FAILED (counted as 1 failed)")
    total_failed=$((total_failed + 1))
    status=1
    return 0
  fi

  echo "=== run-tests [$name]: meson test ==="
  local log=$tmpdir/$name.log rc=0
  env "${test_env[@]}" meson test -C "$dir" --print-errorlogs --num-processes 2 \
    "${test_args[@]}" 2>&1 | tee "$log" || rc=$?

  local ok xfail fail xpass skip timeout
  read -r ok xfail fail xpass skip timeout < <(parse_meson_summary "$log")
  local passed=$((ok + xfail))
  local failed=$((fail + xpass + timeout))
  if ((rc != 0 && failed == 0)); then
    # meson test failed without reporting a failing test (e.g. it errored out).
    failed=1
  fi
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skip))
  if ((rc != 0 || failed > 0)); then
    status=1
    results+=("$name: tests FAILED (meson test exit $rc; ok=$passed fail=$failed skip=$skip)")
  elif ((passed + skip == 0)); then
    results+=("$name: meson ran no test")
  else
    results+=("$name: tests ok (ok=$passed fail=$failed skip=$skip)")
  fi
}

for b in "${builds[@]}"; do
  run_build "$b"
done

echo "=== run-tests: results ==="
for r in "${results[@]}"; do
  echo "  $r"
done

if ((total_passed + total_failed == 0)); then
  echo "run-tests: no test was run; this is a failure" >&2
  status=1
fi

summary="$total_passed passed, $total_failed failed"
if ((total_skipped > 0)); then
  summary+=", $total_skipped skipped"
fi
echo "$summary"
exit "$status"
