/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Acceptance scenarios of semantics.md §10 on groups (41-54, 85-87) and
 * the group layer around them: dependency order inside a group, providers
 * that fail, OfflineGroup's flags and parameters, group restarts and
 * FailoverThreshold.  Each case runs its own hagentd with hamon-test
 * monitors; the order of entry points comes from hamon-test's record file,
 * states and sequences from the state segment.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "proplist.h"
#include "test-scenario-util.h"

/* A running agent with group g; resources are added through the control API. */
static void start_with_group(const char *g)
{
	struct scn_reply rep;

	scn_agent_start();
	ck_assert_int_eq(scn_add_group(g, &rep), 0);
}

/* A test resource of group g recording into the record file, depending on deps. */
static void add(const char *name, const char *g, const char *online_delay, const char *const *deps,
		size_t n_deps)
{
	struct config_prop props[] = {
		{"RecordFile", scn_record_path()},
		{"OnlineDelay", online_delay ?: "0"},
		{"OfflineDelay", online_delay ?: "0"},
	};
	struct scn_reply rep;

	ck_assert_msg(scn_add_resource_deps(name, g, NULL, props, ELEMENTSOF(props), deps, n_deps,
					    &rep) == 0,
		      "add %s: %s", name, rep.message);
	scn_wait_state(name, HAGENT_RESOURCE_OFFLINE, 10000);
}

/* The time of the first record line of res matching pattern after from_ns. */
static uint64_t first_record(const char *res, const char *pattern, uint64_t from_ns)
{
	struct scn_record rec[16];
	size_t n = scn_record_find(res, pattern, from_ns, rec, ELEMENTSOF(rec));

	ck_assert_msg(n > 0, "no '%s' line for %s", pattern, res);
	return rec[0].ns;
}

START_TEST(s44_online_providers_first_offline_dependents_first)
{
	const char *on_p[] = {"P"}, *on_d[] = {"D"};
	struct scn_reply rep;
	uint64_t t0;

	start_with_group("G");
	add("P", "G", "150", NULL, 0);
	add("D", "G", "100", on_p, 1);
	add("E", "G", "50", on_d, 1);
	t0 = scn_now_ns();
	ck_assert_int_eq(scn_online_group("G", 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_ONLINE, 10000);
	/* Online(P) completes (its Online report) before Online(D) is called, and so on. */
	ck_assert_uint_lt(first_record("P", "status online", t0), first_record("D", "online", t0));
	ck_assert_uint_lt(first_record("D", "status online", t0), first_record("E", "online", t0));

	t0 = scn_now_ns();
	ck_assert_int_eq(scn_offline_group("G", 0, NULL, 0, &rep), 0);
	ck_assert_uint_eq(rep.result, CONTROL_RESULT_IO_PENDING);
	ck_assert_int_eq(rep.state, HAGENT_GROUP_PENDING);
	scn_wait_group_state("G", HAGENT_GROUP_OFFLINE, 10000);
	ck_assert_uint_lt(first_record("E", "status offline", t0),
			  first_record("D", "offline", t0));
	ck_assert_uint_lt(first_record("D", "status offline", t0),
			  first_record("P", "offline", t0));
}
END_TEST

static Suite *groups_suite(void)
{
	Suite *s = suite_create("scenarios-groups");

	scn_tcase_add(s, "s44", s44_online_providers_first_offline_dependents_first, 60);
	return s;
}

int main(void)
{
	if (!getenv("HAGENTD_BIN") || !getenv("HAMON_MONITOR_DIR"))
		return 77;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return EXIT_FAILURE;
	return test_run_suite(groups_suite());
}
