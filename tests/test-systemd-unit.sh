#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd deployment files (systemd/), without a running systemd:
#  1. `systemd-analyze verify` of the configured hagentd.service (a copy whose
#     ExecStart is the built hagentd: verify needs the binary) and hagent.slice
#     prints nothing and succeeds;
#  2. `meson install --destdir` puts the unit, the slice and the sysusers and
#     tmpfiles snippets where systemd looks for them: `systemctl --root`
#     enables the unit, `systemd-analyze --root cat-config` finds the snippets,
#     systemd-sysusers creates the haclient group and systemd-tmpfiles
#     /run/hagent in the tree; the installed unit's ExecStart and --monitor-dir
#     name the installed hagentd and monitors, and a copy pointed into the tree
#     verifies too.
# Prints "ok"/"FAIL" per check and "N passed, N failed"; exit 1 on a failure,
# 77 (skipped) only when systemd-analyze is missing.
#
# usage: test-systemd-unit.sh BUILD_DIR CONFIGURED_UNIT SLICE HAGENTD
set -euo pipefail

build=$1 unit=$2 slice=$3 hagentd=$4

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "test-systemd-unit: systemd-analyze not found (package systemd): skipped" >&2
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-systemd-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0
pass() {
	echo "ok   $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $1"
	failed=$((failed + 1))
}

# verify: exit 0 and not a line of output (warnings alone exit 0 too).
verify_clean() {
	local what=$1 out rc=0
	shift
	out=$(systemd-analyze verify "$@" 2>&1) || rc=$?
	if ((rc == 0)) && [[ -z $out ]]; then
		pass "$what"
	else
		fail "$what: systemd-analyze verify exit $rc:"
		printf '%s\n' "$out" | sed 's/^/     /'
	fi
}

# The value of key in unit file f (the first line "key=...").
unit_value() {
	sed -n "s/^$2=//p" "$1" | head -n 1
}

# 1. The configured unit, ExecStart pointed at the build.
mkdir "$tmp/units"
exec_start=$(unit_value "$unit" ExecStart)
exec_bin=${exec_start%% *}
sed "s#^ExecStart=$exec_bin #ExecStart=$hagentd #" "$unit" >"$tmp/units/hagentd.service"
cp "$slice" "$tmp/units/hagent.slice"
if grep -q "^ExecStart=$hagentd " "$tmp/units/hagentd.service"; then
	pass "the configured unit's ExecStart is $exec_bin with arguments"
else
	fail "no ExecStart line to point at the build in $unit"
fi
verify_clean "verify hagentd.service (built hagentd)" "$tmp/units/hagentd.service"
verify_clean "verify hagent.slice" "$tmp/units/hagent.slice"
for kv in Type=notify NotifyAccess=main KillMode=process Restart=on-failure \
	RuntimeDirectory=hagent RuntimeDirectoryPreserve=yes StateDirectory=hagent \
	StateDirectoryMode=0700 Slice=hagent.slice; do
	if grep -qx "$kv" "$unit"; then
		pass "unit has $kv"
	else
		fail "unit lacks $kv"
	fi
done
if [[ $(unit_value "$unit" WatchdogSec) =~ ^[0-9]+s$ ]]; then
	pass "unit has WatchdogSec=$(unit_value "$unit" WatchdogSec)"
else
	fail "unit has no WatchdogSec= in seconds"
fi
echo "     systemd-analyze security --offline=yes: $(systemd-analyze security --offline=yes \
	"$tmp/units/hagentd.service" 2>&1 | grep 'Overall exposure' || echo '(no result)')"

# 2. The installed layout.
dest=$tmp/dest
if meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >"$tmp/install.log" 2>&1; then
	pass "meson install --destdir"
else
	fail "meson install --destdir:"
	sed 's/^/     /' "$tmp/install.log"
	echo "$passed passed, $failed failed"
	exit 1
fi

out=$(systemctl --root="$dest" enable hagentd.service 2>&1) || true
if [[ -L $dest/etc/systemd/system/multi-user.target.wants/hagentd.service ]]; then
	pass "systemctl --root finds and enables hagentd.service"
else
	fail "systemctl --root enable hagentd.service: $out"
fi
state=$(systemctl --root="$dest" is-enabled hagent.slice 2>&1) || true
if [[ $state == static ]]; then
	pass "systemctl --root finds hagent.slice (static)"
else
	fail "systemctl --root is-enabled hagent.slice: $state"
fi

installed_unit=$(find "$dest" -name hagentd.service -path '*/systemd/system/*' -type f | head -n 1)
exec_start=$(unit_value "$installed_unit" ExecStart)
exec_bin=${exec_start%% *}
if [[ -x $dest$exec_bin ]]; then
	pass "ExecStart names the installed $exec_bin"
else
	fail "ExecStart names $exec_bin, not installed in $dest"
fi
mon_dir=$(sed -n 's/.*--monitor-dir=\([^ ]*\).*/\1/p' <<<"$exec_start")
if [[ -n $mon_dir && -x $dest$mon_dir/hamon-process ]]; then
	pass "--monitor-dir names the installed monitors ($mon_dir)"
else
	fail "--monitor-dir '$mon_dir' holds no installed hamon-process"
fi
mkdir "$tmp/installed"
sed "s#^ExecStart=$exec_bin #ExecStart=$dest$exec_bin #" "$installed_unit" \
	>"$tmp/installed/hagentd.service"
cp "$(dirname "$installed_unit")/hagent.slice" "$tmp/installed/"
verify_clean "verify the installed hagentd.service" "$tmp/installed/hagentd.service"

for snippet in sysusers.d/hagent.conf tmpfiles.d/hagent.conf; do
	out=$(systemd-analyze --root="$dest" cat-config "$snippet" 2>&1) || true
	if grep -q '^[gD] ' <<<"$out"; then
		pass "systemd-analyze --root finds $snippet ($(head -n 1 <<<"$out" | sed "s#^\# $dest##"))"
	else
		fail "systemd-analyze --root cat-config $snippet: $out"
	fi
done

mkdir -p "$dest/etc"
out=$(systemd-sysusers --root="$dest" 2>&1) || true
if grep -q '^haclient:' "$dest/etc/group" 2>/dev/null; then
	pass "systemd-sysusers creates the group haclient"
else
	fail "systemd-sysusers --root: no haclient in etc/group: $out"
fi
if ((EUID == 0)); then
	out=$(systemd-tmpfiles --root="$dest" --create --remove --boot 2>&1) || true
	if [[ -d $dest/run/hagent && $(stat -c %a "$dest/run/hagent") == 755 ]]; then
		pass "systemd-tmpfiles creates /run/hagent 0755"
	else
		fail "systemd-tmpfiles --root: no /run/hagent 0755: $out"
	fi
	# A stale file of an earlier boot goes at boot (--remove), not with --create alone.
	touch "$dest/run/hagent/stale"
	systemd-tmpfiles --root="$dest" --create >/dev/null 2>&1 || true
	if [[ -e $dest/run/hagent/stale ]]; then
		pass "systemd-tmpfiles --create leaves /run/hagent's contents"
	else
		fail "systemd-tmpfiles --create emptied /run/hagent"
	fi
	systemd-tmpfiles --root="$dest" --create --remove --boot >/dev/null 2>&1 || true
	if [[ ! -e $dest/run/hagent/stale ]]; then
		pass "systemd-tmpfiles --boot --remove empties /run/hagent"
	else
		fail "systemd-tmpfiles --boot --remove left /run/hagent/stale"
	fi
else
	echo "     not root: the systemd-tmpfiles checks (chown root) are left out"
fi

echo "$passed passed, $failed failed"
((failed == 0))
