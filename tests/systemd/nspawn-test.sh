#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The real-systemd integration test of issue 6 (../shared/docs/testing.md §A(i)): hagent, installed
# from the build under test (`meson install --destdir`), in a Debian 12 tree booted with
# systemd-nspawn, systemd as PID 1; driven from here with nsenter. It checks the unit as shipped:
# sysusers/tmpfiles at boot, READY, the watchdog, journald fields, per-resource scopes, and that
# 100 online `process` resources survive SIGKILL, restart and watchdog expiry of hagentd with
# the same processes, until a stop of the service takes them offline in dependency order.
#
# Usage: nspawn-test.sh BUILD_DIR
# The tree is built once (debootstrap, ~1 min, ~200 MB) in BUILD_DIR/nspawn-cache and reused
# while its package list is the same. Prints one numbered "ok"/"FAIL" line per check, timings,
# and "N passed, N failed". Exit 0 when all passed, 1 when one failed, 77 when the test cannot
# run here (not root, nspawn or debootstrap missing, no network for debootstrap): meson counts
# 77 as skipped, never as passed.
set -euo pipefail

MIRROR=http://deb.debian.org/debian
SUITE=bookworm
# What the tree needs besides the libraries of the installed binaries (added from ldd below).
BASE_PACKAGES=(systemd-sysv dbus libsystemd0)
# Units a minbase tree starts that have nothing to do with the test (timers would fire mid-test).
MASK_UNITS=(systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer
	dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer)
NGROUPS=4       # groups g0..g3
NPERGROUP=25    # resources gN-r00..gN-r24; gN-r01.. depend on gN-r00
MARK=hagent-nspawn-offline # the resources' command line carries it and prints it when stopped

skip() {
	echo "nspawn-test: SKIPPED: $*"
	exit 77
}

(($# == 1)) || {
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
}
((EUID == 0)) || skip "needs root (debootstrap, mounts, systemd-nspawn)"
for tool in systemd-nspawn debootstrap nsenter unshare wget python3 meson; do
	command -v "$tool" >/dev/null ||
		skip "$tool is not installed (scripts/install-deps.sh installs debootstrap and systemd-container)"
done
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
	skip "the kernel has no overlay file system"

# Everything below runs in a private mount namespace: the overlay mount of the tree goes away
# with this script even if it is killed.
if [[ ${HAGENT_NSPAWN_TEST_UNSHARED:-} != "$$" ]]; then
	# unshare execs, so the PID stays the same: the marker says this process did it.
	export HAGENT_NSPAWN_TEST_UNSHARED=$$
	exec unshare -m --propagation private -- "$BASH" "$0" "$@"
fi

build=$(realpath "$1")
[[ -f $build/meson-private/coredata.dat ]] || {
	echo "nspawn-test: $build is not a meson build directory" >&2
	exit 2
}
cache=$build/nspawn-cache
tree=$cache/$SUITE
machine=hagent-nspawn-$$
work=""
nspawn_pid=""
leader=""
merged=""
t_start=$EPOCHREALTIME

elapsed() { # seconds since $1 (an $EPOCHREALTIME), one decimal
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

cleanup() {
	local rc=$? i
	set +e
	trap - EXIT
	if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# An orderly poweroff first (0.2 s here); then the signals nspawn turns into one.
		if [[ -n $leader ]]; then
			timeout -k 5 20 nsenter -t "$leader" -m -u -i -n -p -- \
				/usr/bin/systemctl poweroff --no-block >/dev/null 2>&1
		fi
		for ((i = 0; i < 300; i++)); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$nspawn_pid" 2>/dev/null; then
			echo "nspawn-test: container did not power off in 30 s; SIGTERM to nspawn $nspawn_pid"
			kill -TERM "$nspawn_pid"
			for ((i = 0; i < 100; i++)); do
				kill -0 "$nspawn_pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -0 "$nspawn_pid" 2>/dev/null && kill -KILL "$nspawn_pid"
		fi
		wait "$nspawn_pid" 2>/dev/null
	fi
	[[ -n $merged ]] && mountpoint -q "$merged" && umount "$merged"
	# /run is not a tmpfs here, so nspawn leaves this behind (testing.md, Pitfalls).
	rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null
	[[ -n $work ]] && rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

work=$(mktemp -d "$build/nspawn-test.XXXXXX")
echo "nspawn-test: build $build, work dir $work"

# ---------------------------------------------------------------------------------------------
# Install the build under test into a directory that becomes the top layer of the tree.

t=$EPOCHREALTIME
dest=$work/dest
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$work/install.log" 2>&1 || {
	cat "$work/install.log"
	echo "nspawn-test: meson install failed"
	exit 1
}
# Debian 12 has a merged /usr (/lib -> usr/lib, ...): a real lib/ in the top layer would hide the
# tree's symlink. Files installed to /lib (systemd's unit dir from pkg-config) go under usr/.
for d in bin sbin lib lib64; do
	if [[ -d $dest/$d && ! -L $dest/$d ]]; then
		mkdir -p "$dest/usr/$d"
		cp -a "$dest/$d/." "$dest/usr/$d/"
		rm -rf "${dest:?}/$d"
	fi
done
prefix=$(meson introspect --buildoptions "$build" |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
echo "nspawn-test: installed with prefix $prefix in $(elapsed "$t") s"

# The Debian packages of the libraries the installed programs load (ldd, then dpkg -S).
mapfile -t programs < <(find "$dest" -type f -perm -u+x | sort)
mapfile -t libs < <(for p in "${programs[@]}"; do
	# Only ELF files. Ours (libhamon) is in $dest, which ldd does not search: "not found" and
	# skipped; without meson test's LD_LIBRARY_PATH, which would find it in the build dir.
	[[ $(head -c 4 "$p" | od -An -c | tr -d ' ') == '177ELF' ]] || continue
	env -u LD_LIBRARY_PATH ldd "$p" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u)
# One dpkg -S for all (each call reads the whole database). A library may be known to dpkg under
# /lib or /usr/lib (merged /usr), by its path or by its symlink's target.
declare -A candidates=()
for lib in "${libs[@]}"; do
	for p in "$lib" "$(realpath -m "$lib")"; do
		candidates[${p#/usr}]=1
		candidates[/usr${p#/usr}]=1
	done
done
owners=$(dpkg -S "${!candidates[@]}" 2>/dev/null || true)
packages=("${BASE_PACKAGES[@]}")
for lib in "${libs[@]}"; do
	pkg=""
	for p in "$lib" "$(realpath -m "$lib")"; do
		pkg=$(awk -v a="${p#/usr}" -v b="/usr${p#/usr}" -F ': ' '$2 == a || $2 == b {
			sub(/:.*/, "", $1); print $1; exit }' <<<"$owners")
		[[ -n $pkg ]] && break
	done
	if [[ -n $pkg ]]; then
		packages+=("$pkg")
	else
		echo "nspawn-test: warning: $lib belongs to no Debian package; not added to the tree"
	fi
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
include=$(
	IFS=,
	echo "${packages[*]}"
)
echo "nspawn-test: tree packages: $include"

# ---------------------------------------------------------------------------------------------
# The Debian tree: built once per build dir, reused while complete and for the same packages.

mkdir -p "$cache"
exec {lockfd}>"$cache/lock"
flock -w 1200 "$lockfd" || {
	echo "nspawn-test: $cache/lock held for 20 min by another run"
	exit 1
}
stamp="$SUITE $MIRROR --variant=minbase --include=$include; masked ${MASK_UNITS[*]}"
if [[ -f $tree.complete && $(<"$tree.complete") == "$stamp" && -x $tree/lib/systemd/systemd ]]; then
	echo "nspawn-test: reusing the tree $tree"
else
	wget -q -T 20 -t 2 -O /dev/null "$MIRROR/dists/$SUITE/Release" ||
		skip "cannot reach $MIRROR (debootstrap needs the network)"
	t=$EPOCHREALTIME
	rm -rf "$tree" "$tree.complete" "$tree.new"
	echo "nspawn-test: debootstrap $SUITE into $tree.new (about 1 min)"
	if ! timeout -k 10 900 debootstrap --variant=minbase --include="$include" \
		"$SUITE" "$tree.new" "$MIRROR" >"$cache/debootstrap.log" 2>&1; then
		tail -n 30 "$cache/debootstrap.log"
		rm -rf "$tree.new"
		echo "nspawn-test: debootstrap failed (log above; the mirror answered, so this is no skip)"
		exit 1
	fi
	for u in "${MASK_UNITS[@]}"; do
		ln -sfn /dev/null "$tree.new/etc/systemd/system/$u"
	done
	# Empty: systemd makes a transient one at every boot (the tree is shared by every run).
	: >"$tree.new/etc/machine-id"
	rm -rf "$tree.new/var/cache/apt/archives"/*.deb
	mv "$tree.new" "$tree"
	echo "$stamp" >"$tree.complete"
	echo "nspawn-test: debootstrap took $(elapsed "$t") s ($(du -sm "$tree" | cut -f1) MB)"
fi

# The tree under the installed files, read-only; --volatile=overlay puts a tmpfs on top.
merged=$work/root
mkdir -p "$merged"
mount -t overlay "$machine" -o "lowerdir=$dest:$tree" "$merged"

# ---------------------------------------------------------------------------------------------
# Boot.

t=$EPOCHREALTIME
systemd-nspawn -q -D "$merged" --volatile=overlay --register=no --keep-unit --private-network \
	--machine="$machine" --console=pipe -b </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
# The container's PID 1 is nspawn's child (testing.md §A(i)).
for ((i = 0; i < 300; i++)); do
	kill -0 "$nspawn_pid" 2>/dev/null || break
	for c in /proc/"$nspawn_pid"/task/*/children; do
		read -r leader _ <"$c" 2>/dev/null || true
		[[ -n $leader ]] && break
	done
	[[ -n $leader && -S /proc/$leader/root/run/systemd/private ]] && break
	sleep 0.1
done
if [[ -z $leader || ! -S /proc/$leader/root/run/systemd/private ]]; then
	cat "$work/console.log"
	echo "nspawn-test: the container's systemd did not come up in 30 s"
	exit 1
fi
echo "nspawn-test: container $machine, PID 1 is $leader on the host ($(elapsed "$t") s)"

CPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# ns SECONDS CMD...: CMD inside the container, bounded; stdout/stderr as they are.
ns() {
	local secs=$1
	shift
	timeout -k 5 "$secs" nsenter -t "$leader" -m -u -i -n -p -- \
		/usr/bin/env -i PATH="$CPATH" LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}
# prop UNIT PROPERTY: one property's value.
prop() {
	ns 30 systemctl show -P "$2" "$1"
}
# props UNIT PROPERTY...: their values on one line, in the order asked (systemctl show prints
# them in its own order).
props() {
	local unit=$1 out p line
	shift
	out=$(ns 30 systemctl show "${@/#/--property=}" "$unit") || return 1
	local -a vals=()
	for p in "$@"; do
		line=$(grep -m 1 "^$p=" <<<"$out") || return 1
		vals+=("${line#*=}")
	done
	echo "${vals[*]}"
}

# What a package's postinst does: the installed libhamon into ld.so's cache (needed when the
# prefix is /usr/local, whose library directory is not in the cache of a fresh tree).
ns 60 ldconfig || {
	echo "nspawn-test: ldconfig in the container failed"
	exit 1
}

# ---------------------------------------------------------------------------------------------
# Checks: each sets $why and returns 1 on failure.

declare -i n=0 passed=0 failed=0
why=""
run_check() {
	local desc=$1 t0=$EPOCHREALTIME
	shift
	n+=1
	why=""
	if "$@"; then
		passed+=1
		printf 'ok %d - %s (%s s)\n' "$n" "$desc" "$(elapsed "$t0")"
	else
		failed+=1
		printf 'FAIL %d - %s (%s s)\n' "$n" "$desc" "$(elapsed "$t0")"
		printf '    %s\n' "${why:-(no reason given)}"
	fi
}
# wait_until SECONDS CMD...: CMD every 0.2 s until it succeeds; 1 if it never did.
wait_until() {
	local deadline
	deadline=$(awk -v a="$EPOCHREALTIME" -v s="$1" 'BEGIN { printf "%.0f", (a + s) * 10 }')
	shift
	while :; do
		"$@" && return 0
		(($(awk -v a="$EPOCHREALTIME" 'BEGIN { printf "%.0f", a * 10 }') < deadline)) || return 1
		sleep 0.2
	done
}

# The processes of the test's resources, from the container's /proc: "R name pid ppid starttime"
# for each resource's shell (its cmdline has the mark), "S pid ppid starttime" for each
# `sleep 1000000` and "M pid comm" for each monitor program (hamon-*). The mark comes in the
# environment: on the command line it would make the scanning shell (and its forks) look like
# a resource.
# shellcheck disable=SC2016 # expanded inside the container
PROCS_SCRIPT='
m=$HAGENT_MARK
for d in /proc/[0-9]*; do
	pid=${d#/proc/}
	cmd=$(tr "\0" " " <"$d/cmdline" 2>/dev/null) || continue
	stat=$(cat "$d/stat" 2>/dev/null) || continue
	read -r -a f <<<"${stat##*) }"   # f[0] is field 3 (state): ppid f[1], starttime f[19]
	comm=$(cat "$d/comm" 2>/dev/null) || continue
	if [[ $cmd == *"$m "* ]]; then
		name=${cmd#*"$m "}
		echo "R ${name%%[ ;]*} $pid ${f[1]} ${f[19]}"
	elif [[ $cmd == "sleep 1000000 " ]]; then
		echo "S $pid ${f[1]} ${f[19]}"
	elif [[ $comm == hamon-* ]]; then
		echo "M $pid $comm"
	fi
done
exit 0'
procs() {
	ns 60 env HAGENT_MARK="$MARK" bash -c "$PROCS_SCRIPT" 2>"$work/procs.err"
}

# snapshot FILE: one line per resource, "name group state type monitor_pid restart_count
# shell_pid:starttime sleep_pid:starttime", and one per group, "group name state persistent",
# from `monitorctl --json status` and the processes; sorted. Fails (with $why) unless monitorctl
# answered and every resource has exactly one live shell whose parent is its monitor and one
# sleep under it.
snapshot() {
	local out=$1
	if ! ns 60 monitorctl --json status >"$work/status.json" 2>"$work/status.err"; then
		why="monitorctl --json status failed: $(head -c 500 "$work/status.err")"
		return 1
	fi
	procs >"$work/procs.txt" || {
		why="could not list the container's processes: $(head -c 300 "$work/procs.err")"
		return 1
	}
	python3 - "$work/status.json" "$work/procs.txt" "$out" <<'EOF' 2>"$work/snapshot.err" || {
import json, sys
status = json.load(open(sys.argv[1]))
shells, sleeps = {}, {}
for line in open(sys.argv[2]):
    f = line.split()
    if not f:
        continue
    if f[0] == "R":
        shells.setdefault(f[1], []).append((int(f[2]), int(f[3]), f[4]))
    elif f[0] == "S":
        sleeps.setdefault(int(f[2]), []).append("%s:%s" % (f[1], f[3]))
lines, errors = [], []
for g in status.get("groups", []):
    lines.append("group %s %s %s" % (g["name"], g["state"], g["persistent_state"]))
    for r in g["resources"]:
        sh = shells.pop(r["name"], [])
        if len(sh) != 1:
            errors.append("%s: %d processes" % (r["name"], len(sh)))
            continue
        pid, ppid, start = sh[0]
        if ppid != r["monitor_pid"]:
            errors.append("%s: process %d has parent %d, monitor is %s" % (r["name"], pid, ppid, r["monitor_pid"]))
        sl = sleeps.get(pid, [])
        if len(sl) != 1:
            errors.append("%s: %d sleep processes under %d" % (r["name"], len(sl), pid))
        lines.append("%s %s %s %s %s %s %d:%s %s" % (r["name"], r["group"], r["state"], r["type"],
                     r["monitor_pid"], r["restart_count"], pid, start, ",".join(sl)))
for name in shells:
    errors.append("process of %s which monitorctl does not list" % name)
open(sys.argv[3], "w").write("".join(sorted(l + "\n" for l in lines)))
if errors:
    sys.stderr.write("; ".join(errors[:10]) + (" ..." if len(errors) > 10 else ""))
    sys.exit(1)
EOF
		why="$(head -c 1500 "$work/snapshot.err")"
		return 1
	}
}

# all_online FILE [any]: every group and resource of the snapshot online, every resource a
# `process` one, the expected numbers; without "any" also with zero restarts.
all_online() {
	local f=$1 any=${2:-} bad
	bad=$(awk -v ng="$NGROUPS" -v nr="$((NGROUPS * NPERGROUP))" -v any="$any" '
		$1 == "group" { g++; if ($3 != "online" || $4 != 1) print; next }
		{ r++; if ($3 != "online" || $4 != "process" || (any == "" && $6 != 0)) print }
		END { if (g != ng || r != nr) printf "%d groups and %d resources, expected %d and %d\n", g, r, ng, nr }
	' "$f")
	[[ -z $bad ]] || {
		why="not all online${any:+ }${any:- with zero restarts}: $(head -n 5 <<<"$bad" | tr '\n' '|')"
		return 1
	}
}

unit_state() { # "ActiveState SubState MainPID NRestarts"
	props hagentd ActiveState SubState MainPID NRestarts
}

# The journal and scope checks look at the resources of check 6's snapshot.
need_snap0() {
	[[ -s $work/snap0 ]] && return 0
	why="no snapshot of the online resources to compare with (check 6 failed)"
	return 1
}

# ---- the checks -------------------------------------------------------------------------------

check_boot() {
	local s
	s=$(ns 120 systemctl is-system-running --wait 2>&1) || true
	[[ $s == running ]] && return 0
	why="is-system-running: $s; failed units: $(ns 30 systemctl list-units --failed --plain --no-legend | tr '\n' ' ')"
	return 1
}

fragment=""
check_verify() {
	local f out=""
	fragment=$(prop hagentd.service FragmentPath) || true
	local slice
	slice=$(prop hagent.slice FragmentPath) || true
	[[ -n $fragment && -n $slice ]] || {
		why="hagentd.service ('$fragment') or hagent.slice ('$slice') is not installed where systemd finds it"
		return 1
	}
	for f in "$fragment" "$slice"; do
		out+=$(ns 60 systemd-analyze verify "$f" 2>&1) || out+=" (exit $?)"
	done
	[[ -z $out ]] || {
		why="systemd-analyze verify: $out"
		return 1
	}
}

check_sysusers_tmpfiles() {
	local u r g f
	for u in systemd-sysusers.service systemd-tmpfiles-setup.service; do
		r=$(prop "$u" Result)
		[[ $r == success ]] || {
			why="$u: Result=$r"
			return 1
		}
	done
	g=$(ns 30 getent group haclient) || {
		why="no group haclient in the container (sysusers.d snippet not applied)"
		return 1
	}
	echo "    group: $g"
	# Every directory the installed tmpfiles.d snippets declare exists, with their group.
	f=$(find "$dest" -path '*/tmpfiles.d/*.conf' | head -n 1)
	[[ -n $f ]] || {
		why="no tmpfiles.d snippet installed"
		return 1
	}
	local type path group st
	while read -r type path _ _ group _; do
		[[ $type == [dD]* ]] || continue
		st=$(ns 30 stat -c '%U %G' "$path") || {
			why="$path (from ${f##*/}) does not exist"
			return 1
		}
		if [[ -n $group && $group != - && ${st#* } != "$group" ]]; then
			why="$path has group ${st#* }, ${f##*/} says $group"
			return 1
		fi
	done < <(grep -v '^[[:space:]]*\(#\|$\)' "$f")
}

check_start() {
	local type t0=$EPOCHREALTIME s
	if ! ns 120 systemctl start hagentd >"$work/start.out" 2>&1; then
		why="systemctl start: $(head -c 500 "$work/start.out"); $(ns 30 journalctl -u hagentd -n 20 --no-pager -o cat | tr '\n' '|')"
		return 1
	fi
	echo "    systemctl start returned after $(elapsed "$t0") s"
	type=$(prop hagentd Type)
	s=$(props hagentd ActiveState SubState)
	status_text=$(prop hagentd StatusText)
	echo "    Type=$type, state $s, StatusText '$status_text'"
	[[ $type == notify && $s == "active running" && -n $status_text ]] || {
		why="expected Type=notify, active running and a StatusText; got Type=$type, $s, StatusText '$status_text'"
		return 1
	}
}

check_status_empty() {
	ns 30 monitorctl status >"$work/m.out" 2>&1 || {
		why="monitorctl status: $(head -c 500 "$work/m.out")"
		return 1
	}
}

# shellcheck disable=SC2016 # expanded inside the container
ADD_SCRIPT='
set -eu
mark=$1 ngroups=$2 npergroup=$3
for ((g = 0; g < ngroups; g++)); do
	monitorctl group add "g$g" >/dev/null
	for ((r = 0; r < npergroup; r++)); do
		name=$(printf "g%d-r%02d" "$g" "$r")
		dep=()
		((r == 0)) || dep=(--depends-on "g$g-r00")
		# The shell is the resource process: it prints the mark, its name and the time when
		# it is stopped (SIGTERM to its process group), so that the order is known.
		monitorctl resource add "$name" --group "g$g" --type process \
			--set "Command=trap '\''echo $mark $name \$(date +%s.%N); exit 0'\'' TERM; sleep 1000000 & wait" \
			"${dep[@]}" >/dev/null
	done
done
for ((g = 0; g < ngroups; g++)); do
	monitorctl group online "g$g" --wait --timeout 120 >/dev/null
done'

check_add_online() {
	ns 600 bash -c "$ADD_SCRIPT" add "$MARK" "$NGROUPS" "$NPERGROUP" >"$work/add.out" 2>&1 || {
		why="adding or bringing online failed: $(tail -c 800 "$work/add.out")"
		return 1
	}
	snapshot "$work/snap0" && all_online "$work/snap0"
}

# Every resource of snap0 has a HAGENT_RESOURCE entry in hagentd's journal ($names, $missing).
have_all_names() {
	names=$(ns 30 journalctl -u hagentd -F HAGENT_RESOURCE | sort)
	missing=$(comm -23 <(awk '$1 != "group" { print $1 }' "$work/snap0" | sort) <(echo "$names"))
	[[ -z $missing ]]
}

check_journal_fields() {
	local names want missing r
	need_snap0 || return 1
	# journald may still be writing what was sent a moment ago.
	wait_until 30 have_all_names || {
		why="resources without a HAGENT_RESOURCE entry in hagentd's journal: $(head -n 5 <<<"$missing" | tr '\n' ' ')(fields seen: $(head -n 3 <<<"$names" | tr '\n' ' '))"
		return 1
	}
	r=g1-r05
	ns 30 journalctl -u hagentd "HAGENT_RESOURCE=$r" -o json >"$work/j.json" || {
		why="journalctl -o json failed"
		return 1
	}
	want=$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("MESSAGE_ID") and e.get("HAGENT_RESOURCE") == sys.argv[2]:
        n += 1
        if n == 1:
            print("    e.g.", {k: v for k, v in e.items() if k.startswith("HAGENT_") or k in ("MESSAGE", "MESSAGE_ID")})
print(n)' "$work/j.json" "$r")
	echo "${want%$'\n'*}" | grep -v '^[0-9]*$' || true
	[[ ${want##*$'\n'} -gt 0 ]] || {
		why="no entry of $r in hagentd's journal has a MESSAGE_ID"
		return 1
	}
}

check_scopes() {
	local cg scopes out
	need_snap0 || return 1
	out=$(ns 60 systemctl status --no-pager --lines=0 'hagent-*.scope' 2>&1) || true
	[[ $out == *.scope* ]] || {
		why="systemctl status 'hagent-*.scope' lists no scope: $(head -c 300 <<<"$out")"
		return 1
	}
	# Each resource process in a scope of its own.
	scopes=$(awk '$1 != "group" { split($7, p, ":"); print p[1] }' "$work/snap0" | while read -r pid; do
		cg=$(ns 30 cat "/proc/$pid/cgroup" | grep -o 'hagent-[^/]*\.scope' | head -n 1)
		echo "${cg:-none:$pid}"
	done | sort)
	if grep -q '^none:' <<<"$scopes"; then
		why="resource processes outside any hagent-*.scope: $(grep '^none:' <<<"$scopes" | head -n 5 | tr '\n' ' ')"
		return 1
	fi
	local distinct
	distinct=$(uniq <<<"$scopes" | wc -l)
	echo "    $distinct scopes, e.g. $(head -n 1 <<<"$scopes")"
	((distinct == NGROUPS * NPERGROUP)) || {
		why="$distinct distinct scopes for $((NGROUPS * NPERGROUP)) resources"
		return 1
	}
}

# Before each disruption of hagentd: snapB, a snapshot with every resource online (the baseline
# the check after the disruption compares with), and the unit's state in $before. Each pair of
# checks stands on its own: when a disruption before made the agent restart the resources,
# they are online again (bounded) with other processes, and the baseline is those.
baseline_ok() {
	snapshot "$work/snapB" && all_online "$work/snapB" any
}
before=""
prepare_disruption() {
	rm -f "$work/snapB"
	before=""
	wait_until 120 baseline_ok || {
		rm -f "$work/snapB"
		why="no baseline: $why"
		return 1
	}
	before=$(unit_state) || {
		why="systemctl show hagentd failed"
		return 1
	}
}

# The unit runs again with another main PID than $old_pid, and NRestarts $want_restarts unless
# that is empty ($s: the state seen).
unit_replaced() {
	local a sub pid nr
	s=$(unit_state) || return 1
	read -r a sub pid nr <<<"$s"
	[[ $a == active && $sub == running && $pid != 0 && $pid != "$old_pid" ]] &&
		[[ -z $want_restarts || $nr == "$want_restarts" ]]
}

# wait_replaced SECONDS WANT_RESTARTS: hagentd (the one of $before) was killed or restarted.
wait_replaced() {
	local secs=$1 want_restarts=$2 old_pid s=""
	old_pid=$(awk '{ print $3 }' <<<"$before")
	wait_until "$secs" unit_replaced || {
		why="hagentd did not come back in $secs s: before '$before', now '$s' (expected active running, a new MainPID${want_restarts:+, NRestarts=$want_restarts})"
		return 1
	}
	echo "    hagentd back: $s (ActiveState SubState MainPID NRestarts)"
}

# snap1 equals snapB ($last_why: why a snapshot failed).
same_as_baseline() {
	snapshot "$work/snap1" || {
		last_why=$why
		return 1
	}
	diff -q "$work/snapB" "$work/snap1" >/dev/null
}

# After a disruption: every group and resource as in the baseline: state, monitor PID, restart
# count, the same resource processes (PID and start time); and monitorctl status answers.
check_untouched() {
	local last_why=""
	[[ -s $work/snapB ]] || {
		why="no baseline to compare with (the check before could not take one)"
		return 1
	}
	rm -f "$work/snap1"
	# The new hagentd re-attaches and publishes: wait for the whole state to be as before.
	if ! wait_until 120 same_as_baseline; then
		why="not as before after 120 s: ${last_why:+$last_why; }"
		[[ -f $work/snap1 ]] &&
			why+="$(diff "$work/snapB" "$work/snap1" | grep '^[<>]' | head -n 6 | tr '\n' '|')"
		return 1
	fi
	ns 30 monitorctl status >"$work/m.out" 2>&1 || {
		why="monitorctl status: $(head -c 300 "$work/m.out")"
		return 1
	}
}

check_kill() {
	prepare_disruption || return 1
	ns 30 systemctl kill -s KILL hagentd || {
		why="systemctl kill failed"
		return 1
	}
	wait_replaced 120 $(($(awk '{ print $4 }' <<<"$before") + 1))
}

check_restart() {
	prepare_disruption || return 1
	ns 300 systemctl restart hagentd >"$work/r.out" 2>&1 || {
		why="systemctl restart: $(head -c 300 "$work/r.out")"
		return 1
	}
	# NRestarts counts Restart='s restarts only, and a restart asked for resets it.
	wait_replaced 60 ""
}

check_watchdog() {
	local wd wd_s cursor
	prepare_disruption || return 1
	wd=$(prop hagentd WatchdogUSec)
	wd_s=$(ns 30 systemd-analyze timespan "$wd" | awk '$1 ~ /s:$/ && $2 ~ /^[0-9]+$/ { print int($2 / 1000000); exit }')
	[[ -n $wd_s && $wd_s -gt 0 ]] || {
		why="hagentd.service has no watchdog (WatchdogUSec=$wd)"
		return 1
	}
	cursor=$(ns 30 journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')
	echo "    WatchdogUSec=$wd; SIGSTOP to hagentd $(awk '{ print $3 }' <<<"$before")"
	ns 30 systemctl kill -s STOP --kill-whom=main hagentd || {
		why="systemctl kill -s STOP failed"
		return 1
	}
	wait_replaced $((wd_s + 120)) $(($(awk '{ print $4 }' <<<"$before") + 1)) || return 1
	ns 30 journalctl -u hagentd --after-cursor="$cursor" --no-pager -o cat >"$work/wd.log"
	grep -m 1 'Watchdog timeout' "$work/wd.log" | sed 's/^/    journal: /' || {
		why="hagentd came back but the journal shows no watchdog timeout: $(head -n 5 "$work/wd.log" | tr '\n' '|')"
		return 1
	}
}

no_procs() {
	procs >"$work/procs-after.txt" && [[ ! -s $work/procs-after.txt ]]
}

# The marks the resources printed since $stop_cursor, in marks.txt: one per resource yet?
have_marks() {
	ns 30 journalctl --after-cursor="$stop_cursor" --no-pager -o cat |
		grep "^$MARK " >"$work/marks.txt"
	(($(wc -l <"$work/marks.txt") >= NGROUPS * NPERGROUP))
}

stop_cursor=""
check_stop_order() {
	local t0 bad no_baseline=""
	# Stop in any case, so that the checks after this one see the stop.
	prepare_disruption || no_baseline=$why
	stop_cursor=$(ns 30 journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')
	t0=$EPOCHREALTIME
	ns 300 systemctl stop hagentd >"$work/stop.out" 2>&1 || {
		why="systemctl stop: $(head -c 300 "$work/stop.out")"
		return 1
	}
	echo "    systemctl stop returned after $(elapsed "$t0") s"
	[[ -z $no_baseline ]] || {
		why="the resources were not online before the stop: $no_baseline"
		return 1
	}
	# Each resource printed its mark when stopped: all of them, dependents before their provider.
	wait_until 20 have_marks || true
	bad=$(sort -k3,3n "$work/marks.txt" | awk -v ng="$NGROUPS" -v np="$NPERGROUP" '
		{ n++; seen[$2]++; split($2, a, "-"); g = a[1]
		  if (a[2] == "r00") base[g] = n; else if (n > last[g]) last[g] = n }
		END {
			for (g in base) if (last[g] > base[g]) print g "-r00 stopped before one of its dependents"
			c = 0; for (k in seen) c++
			if (c != ng * np) print c " of " ng * np " resources reported a clean stop (SIGTERM)"
		}')
	[[ -z $bad ]] || {
		why="$(head -n 5 <<<"$bad" | tr '\n' '|')"
		return 1
	}
}

check_stop_procs() {
	# The resources' processes are gone when the stop returns; the monitors may take a moment
	# more to exit once hagentd is gone.
	procs >"$work/procs-after.txt" || {
		why="could not list the container's processes: $(head -c 300 "$work/procs.err")"
		return 1
	}
	if grep -q '^[RS] ' "$work/procs-after.txt"; then
		why="resource processes left after the stop: $(grep '^[RS] ' "$work/procs-after.txt" | head -n 5 | tr '\n' '|')"
		return 1
	fi
	wait_until 10 no_procs || {
		why="processes left 10 s after the stop: $(head -n 5 "$work/procs-after.txt" | tr '\n' '|')"
		return 1
	}
}

check_stopped_unit() {
	local s
	s=$(props hagentd ActiveState Result)
	[[ $s == "inactive success" ]] || {
		why="expected ActiveState=inactive Result=success, got $s"
		return 1
	}
}

run_check "the container boots to 'running'" check_boot
run_check "systemd-analyze verify: hagentd.service and hagent.slice clean" check_verify
run_check "sysusers and tmpfiles ran at boot: group haclient, the runtime/state dirs" \
	check_sysusers_tmpfiles
run_check "systemctl start hagentd returns once READY (notify, active running, StatusText)" check_start
run_check "monitorctl status works inside" check_status_empty
run_check "$((NGROUPS * NPERGROUP)) process resources in $NGROUPS groups online" check_add_online
run_check "journald: HAGENT_RESOURCE for every resource, MESSAGE_ID on its state changes" \
	check_journal_fields
run_check "systemctl status 'hagent-*.scope': one scope per resource" check_scopes
run_check "systemctl kill -s KILL hagentd: systemd restarts it (NRestarts + 1)" check_kill
run_check "after SIGKILL: every resource online, same processes and monitors, no restart" \
	check_untouched
run_check "systemctl restart hagentd: a new hagentd, active running" check_restart
run_check "after restart: every resource online, same processes and monitors, no restart" \
	check_untouched
run_check "SIGSTOPped hagentd: watchdog timeout, systemd restarts it (NRestarts + 1)" check_watchdog
run_check "after the watchdog: every resource online, same processes and monitors, no restart" \
	check_untouched
run_check "systemctl stop hagentd: every resource stopped cleanly, dependents first" \
	check_stop_order
run_check "after the stop: no resource process or monitor left" check_stop_procs
run_check "after the stop: inactive, Result=success" check_stopped_unit

echo "nspawn-test: total $(elapsed "$t_start") s"
echo "$passed passed, $failed failed"
((failed == 0))
