#!/usr/bin/env bash
# The main job: build hagent (build-release/) and run hagentd with demo
# resources in a private runtime and state directory (the embedded default:
# no root, no systemd), driving it with monitorctl as an operator would.
#
#   scripts/run-demo.sh            run the tour, then stop the agent
#   scripts/run-demo.sh --keep     leave the agent running and print how to
#                                  talk to it and how to stop it
#
# The tour: a group "web" with three resources (a real process run by the
# "process" monitor, depending on one of two scriptable "test" resources,
# which comes online asynchronously with progress reports), brought online
# as a group, providers first; then the process is killed and the agent
# restarts it; then hagentd itself is killed and started again, and no
# resource notices; then the group goes offline, dependents first.
# Build output goes to stderr; the tour goes to stdout.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

keep=0
case ${1:-} in
"") ;;
--keep) keep=1 ;;
-h | --help)
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
*)
  echo "run-demo: unknown argument '$1' (try --help)" >&2
  exit 2
  ;;
esac

bash scripts/install-deps.sh >&2
dir=build-release
if [[ ! -f $dir/meson-private/coredata.dat ]]; then
  meson setup "$dir" --buildtype=release >&2
fi
meson compile -C "$dir" >&2

hagentd=$root/$dir/agent/hagentd
monitorctl=$root/$dir/tools/monitorctl
monitors=$root/$dir/monitorlib/monitors

demo=$(mktemp -d "${TMPDIR:-/tmp}/hagent-demo.XXXXXX")
export HAGENT_RUNTIME_DIR=$demo/run
agent_pid=

stop_agent() {
  if [[ -n $agent_pid ]] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"
    wait "$agent_pid" || true
  fi
  agent_pid=
}
cleanup() {
  stop_agent
  rm -rf "$demo"
}
if ((!keep)); then
  trap cleanup EXIT
fi

# Prints field of resource $1 from `monitorctl --json show`.
field() {
  "$monitorctl" --json show "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([a-z0-9-]*\).*/\1/p"
}
# Waits (at most 10 s) until resource $1 is in state $2.
wait_state() {
  for _ in $(seq 200); do
    [[ $(field "$1" state) == "$2" ]] && return 0
    sleep 0.05
  done
  echo "run-demo: $1 did not become $2" >&2
  return 1
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
  printf '$ monitorctl %s\n' "$*"
  "$monitorctl" "$@"
}

# hagentd in the background; back once it serves (control.sock appears after
# the state is complete, re-attached monitors included).
start_agent() {
  "$hagentd" --runtime-dir "$demo/run" --state-dir "$demo/state" \
    --monitor-dir "$monitors" 2>>"$demo/hagentd.log" &
  agent_pid=$!
  for _ in $(seq 300); do
    [[ -S $demo/run/control.sock ]] && break
    sleep 0.05
  done
  if [[ ! -S $demo/run/control.sock ]]; then
    echo "run-demo: hagentd did not start; its log:" >&2
    cat "$demo/hagentd.log" >&2
    exit 1
  fi
}

step "Starting hagentd (runtime and state in $demo)"
start_agent
echo "hagentd runs as pid $agent_pid, unprivileged, without systemd."

step "A group and three resources; web-app depends on web-db"
run group add web >/dev/null
run resource add web-db --group web --type test \
  --set OnlineDelay=600 --set ProgressInterval=150 --set OfflineDelay=300 >/dev/null
run resource add web-app --group web --type process --depends-on web-db \
  --set 'Command=exec sleep 3600' --set StopTimeout=2000 --set RestartDelay=0 >/dev/null
run resource add web-cache --group web --type test --set IsAlivePollInterval=1000 >/dev/null

step "A second group, frontend, that needs the whole web group online first"
run group add frontend >/dev/null
run resource add lb --group frontend --type test >/dev/null
run group set-dependency frontend '[web]'
echo "(the expression is stored by group id, so renaming web would not break it)"
"$monitorctl" watch --filter state frontend >"$demo/watch.log" 2>&1 &
watch_pid=$!
run status

step "Bringing frontend online: it waits for web"
run group online frontend
run status

step "Bringing web online: web-db (asynchronous, it reports progress) and web-cache, then web-app; then frontend"
run group online web
sleep 0.25
run status
wait_state web-app online
wait_state lb online
run status
kill -TERM "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
echo "What \`monitorctl watch --filter state frontend\` printed meanwhile (from the segment's event log):"
sed 's/^/  /' "$demo/watch.log"

step "A failure: the process of web-app is killed"
app_pid=$(field web-app monitor_pid)
cmd_pid=$(pgrep -P "$app_pid" sleep || true)
if [[ -n $cmd_pid ]]; then
  echo "\$ kill -KILL $cmd_pid    # the command 'sleep 3600' of web-app"
  kill -KILL "$cmd_pid"
fi
for _ in $(seq 200); do
  [[ $(field web-app state) == online && $(field web-app restart_count) -ge 1 ]] && break
  sleep 0.05
done
echo "detected and restarted by the restart policy (RestartDelay=0):"
run status

step "hagentd is killed (kill -9) and started again: no resource notices"
# The status without its tree drawing, sorted: a new agent may list in another order.
status_lines() { "$monitorctl" status | sed 's/^[|`]- *//' | sort; }
before=$(status_lines)
cmd_pid=$(pgrep -P "$(field web-app monitor_pid)" sleep || true)
echo "\$ kill -KILL $agent_pid    # hagentd; web-app's command is pid ${cmd_pid:-?}"
{ kill -KILL "$agent_pid" && wait "$agent_pid"; } 2>/dev/null || true # bash's "Killed" too
rm -f "$demo/run/control.sock" # what a killed agent leaves; the next one replaces it anyway
start_agent
echo "a new hagentd, pid $agent_pid, re-attached the running monitors:"
run status
after=$(status_lines)
if [[ $before == "$after" && -n $cmd_pid ]] && kill -0 "$cmd_pid" 2>/dev/null; then
  echo "the same status, line for line (states, sequences, monitor pids, restarts); web-app's command $cmd_pid still runs."
else
  echo "run-demo: the restart disturbed the resources:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi

step "The same state as JSON, read straight from shared memory"
run --json show web-cache
echo

if ((keep)); then
  step "hagentd keeps running"
  cat <<EOF
  export HAGENT_RUNTIME_DIR=$demo/run
  $monitorctl status
  $monitorctl watch                   # every change, as it happens (Ctrl-C ends it)
  $monitorctl group offline web --wait
  kill $agent_pid; rm -rf $demo     # to stop it and clean up
Its log: $demo/hagentd.log
EOF
  exit 0
fi

step "Taking web offline: frontend goes first (it depends on web), then web-app before web-db"
run group offline web --wait
run status

step "Stopping hagentd (SIGTERM); the end of its log:"
stop_agent
tail -n 12 "$demo/hagentd.log"
