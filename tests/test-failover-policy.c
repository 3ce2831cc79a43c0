/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The group properties and the failover policy (agent/group-props.c,
 * agent/failover-policy.c): defaults and ranges, the effective threshold of
 * "number of nodes − 1", the sliding window in hours with its closed edge,
 * the WS2003 example of semantics.md §4.3, and the window's capacity.
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "failover-policy.h"
#include "test-util.h"
#include "time-util.h"

#define T0	 (UINT64_C(1000) * NSEC_PER_SEC)
#define HOURS(x) ((uint64_t) (x) *3600 * NSEC_PER_SEC)
#define MIN(x)	 ((uint64_t) (x) *60 * NSEC_PER_SEC)

static struct group_props props(uint32_t threshold, uint32_t period_h)
{
	struct group_props p;

	group_props_init(&p);
	p.failover_threshold = threshold;
	p.failover_period_h = period_h;
	ck_assert_int_eq(group_props_validate(&p, NULL), 0);
	return p;
}

/* One failover at T0 + offset on n_nodes: checks the verdict. */
static void failover(struct failover_policy *fp, const struct group_props *p, uint32_t n_nodes,
		     uint64_t offset_ns, enum failover_verdict want)
{
	int v = failover_policy_record(fp, p, n_nodes, T0 + offset_ns);

	ck_assert_msg(v == (int) want, "failover at +%llu s: %s, expected %s",
		      (unsigned long long) (offset_ns / NSEC_PER_SEC),
		      v < 0 ? "error" : failover_verdict_to_string((enum failover_verdict) v),
		      failover_verdict_to_string(want));
}

START_TEST(test_defaults)
{
	struct group_props p;

	group_props_init(&p);
	ck_assert_uint_eq(p.failover_threshold, GROUP_FAILOVER_THRESHOLD_NODES);
	ck_assert_uint_eq(p.failover_period_h, 6);
	ck_assert_int_eq(group_props_validate(&p, NULL), 0);
	ck_assert_uint_eq(group_props_failover_period_ns(&p), HOURS(6));
	/* number of nodes − 1 */
	ck_assert_uint_eq(group_props_failover_threshold(&p, 1), 0);
	ck_assert_uint_eq(group_props_failover_threshold(&p, 3), 2);
	ck_assert_uint_eq(group_props_failover_threshold(&p, 0), 0);
	/* bounded whatever the cluster */
	ck_assert_uint_eq(group_props_failover_threshold(&p, UINT32_MAX),
			  GROUP_FAILOVER_THRESHOLD_MAX);
	/* an explicit value does not depend on the nodes */
	p.failover_threshold = 7;
	ck_assert_uint_eq(group_props_failover_threshold(&p, 1), 7);
	ck_assert_uint_eq(group_props_failover_threshold(&p, 64), 7);
}
END_TEST

START_TEST(test_set_and_validate)
{
	struct group_props p;
	const char *key = NULL;

	group_props_init(&p);
	ck_assert_int_eq(group_props_set(&p, "failoverthreshold", 1000), 0);
	ck_assert_int_eq(group_props_set(&p, "FAILOVERPERIOD", 1193), 0);
	ck_assert_uint_eq(p.failover_threshold, 1000);
	ck_assert_uint_eq(p.failover_period_h, 1193);
	ck_assert_int_eq(group_props_validate(&p, &key), 0);
	ck_assert_int_eq(group_props_set(&p, "PendingTimeout", 1), -ENOENT);
	ck_assert_int_eq(group_props_set(&p, "FailoverThresholds", 1), -ENOENT);

	p.failover_threshold = 1001;
	ck_assert_int_eq(group_props_validate(&p, &key), -ERANGE);
	ck_assert_str_eq(key, "FailoverThreshold");
	p.failover_threshold = UINT32_MAX - 1;
	ck_assert_int_eq(group_props_validate(&p, &key), -ERANGE);
	p.failover_threshold = GROUP_FAILOVER_THRESHOLD_NODES;
	ck_assert_int_eq(group_props_validate(&p, NULL), 0);
	p.failover_threshold = 0;
	ck_assert_int_eq(group_props_validate(&p, NULL), 0);

	p.failover_period_h = 0;
	key = NULL;
	ck_assert_int_eq(group_props_validate(&p, &key), -ERANGE);
	ck_assert_str_eq(key, "FailoverPeriod");
	p.failover_period_h = 1194;
	ck_assert_int_eq(group_props_validate(&p, &key), -ERANGE);
	p.failover_period_h = 1;
	ck_assert_int_eq(group_props_validate(&p, &key), 0);
	p.failover_period_h = UINT32_MAX;
	ck_assert_int_eq(group_props_validate(&p, &key), -ERANGE);
}
END_TEST

/* The WS2003 text: threshold 5 in 3 hours, the sixth failover leaves the group where it is. */
START_TEST(test_ws2003_example)
{
	struct group_props p = props(5, 3);
	struct failover_policy fp = {};

	for (int i = 0; i < 5; i++)
		failover(&fp, &p, 2, MIN(30 * i), FAILOVER_ALLOWED);
	failover(&fp, &p, 2, MIN(150), FAILOVER_EXCEEDED);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + MIN(150)), 6);

	/* spread out over more than 3 hours: never six in any 3 hours */
	failover_policy_reset(&fp);
	for (int i = 0; i < 12; i++)
		failover(&fp, &p, 2, MIN(37 * i), FAILOVER_ALLOWED);
	failover_policy_done(&fp);
}
END_TEST

/* Sliding: what leaves the window no longer counts, the window is any interval. */
START_TEST(test_window_slides)
{
	struct group_props p = props(2, 1);
	struct failover_policy fp = {};

	failover(&fp, &p, 1, 0, FAILOVER_ALLOWED);
	failover(&fp, &p, 1, MIN(40), FAILOVER_ALLOWED);
	failover(&fp, &p, 1, MIN(70), FAILOVER_ALLOWED); /* 0 is out: 40 and 70 */
	/* fixed hour windows [0,1h) [1h,2h) would call this the second of its window */
	failover(&fp, &p, 1, MIN(90), FAILOVER_EXCEEDED); /* 40, 70, 90 inside [30, 90] */
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + MIN(90)), 3);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + MIN(100)), 3);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + MIN(101)), 2);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + MIN(131)), 1);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + MIN(151)), 0);
	failover(&fp, &p, 1, MIN(131), FAILOVER_ALLOWED); /* 90 and 131 */
	failover_policy_done(&fp);
}
END_TEST

/* Closed at both ends: a failover exactly FailoverPeriod old still counts. */
START_TEST(test_window_edges)
{
	struct group_props p = props(1, 2);
	struct failover_policy fp = {};

	failover(&fp, &p, 1, 0, FAILOVER_ALLOWED);
	failover(&fp, &p, 1, HOURS(2), FAILOVER_EXCEEDED);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + HOURS(2)), 2);

	failover_policy_reset(&fp);
	failover(&fp, &p, 1, 0, FAILOVER_ALLOWED);
	failover(&fp, &p, 1, HOURS(2) + 1, FAILOVER_ALLOWED);
	failover_policy_done(&fp);
}
END_TEST

START_TEST(test_threshold_zero)
{
	struct group_props p = props(0, 6);
	struct failover_policy fp = {};

	failover(&fp, &p, 8, 0, FAILOVER_EXCEEDED);
	failover(&fp, &p, 8, HOURS(100), FAILOVER_EXCEEDED);
	failover_policy_done(&fp);
}
END_TEST

/* The default threshold: a single node never fails over, three nodes allow two. */
START_TEST(test_threshold_nodes)
{
	struct group_props p;
	struct failover_policy fp = {};

	group_props_init(&p);
	failover(&fp, &p, 1, 0, FAILOVER_EXCEEDED);

	failover_policy_reset(&fp);
	failover(&fp, &p, 3, 0, FAILOVER_ALLOWED);
	failover(&fp, &p, 3, HOURS(1), FAILOVER_ALLOWED);
	failover(&fp, &p, 3, HOURS(2), FAILOVER_EXCEEDED);
	/* six hours after the first, it has left the window */
	failover(&fp, &p, 3, HOURS(6) + 1, FAILOVER_EXCEEDED); /* 1 h, 2 h, 6 h: still three */
	failover(&fp, &p, 3, HOURS(8) + 1, FAILOVER_ALLOWED);  /* 6 h and 8 h only */
	failover_policy_done(&fp);
}
END_TEST

/* The largest threshold, then a lowered one: the array holds what is needed, no more. */
START_TEST(test_capacity)
{
	struct group_props p = props(GROUP_FAILOVER_THRESHOLD_MAX, 1193);
	struct failover_policy fp = {};
	uint64_t i;

	for (i = 0; i < GROUP_FAILOVER_THRESHOLD_MAX; i++)
		failover(&fp, &p, 1, i * NSEC_PER_SEC, FAILOVER_ALLOWED);
	for (; i < 3 * GROUP_FAILOVER_THRESHOLD_MAX; i++)
		failover(&fp, &p, 1, i * NSEC_PER_SEC, FAILOVER_EXCEEDED);
	ck_assert_uint_eq(fp.capacity, GROUP_FAILOVER_THRESHOLD_MAX + 1);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + i * NSEC_PER_SEC),
			  GROUP_FAILOVER_THRESHOLD_MAX + 1);

	/* lowered to 3: over at once, and the count stays over */
	p = props(3, 1193);
	failover(&fp, &p, 1, i * NSEC_PER_SEC, FAILOVER_EXCEEDED);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0 + i * NSEC_PER_SEC), 4);
	/* a period later all have expired */
	failover(&fp, &p, 1, i * NSEC_PER_SEC + HOURS(1193) + 1, FAILOVER_ALLOWED);
	failover_policy_done(&fp);
	ck_assert_ptr_null(fp.times_ns);
	ck_assert_uint_eq(fp.n_times, 0);
}
END_TEST

START_TEST(test_reset_and_names)
{
	struct group_props p = props(1, 1);
	struct failover_policy fp;

	failover_policy_init(&fp);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0), 0);
	failover(&fp, &p, 1, 0, FAILOVER_ALLOWED);
	failover_policy_reset(&fp);
	ck_assert_uint_eq(failover_policy_count(&fp, &p, T0), 0);
	failover(&fp, &p, 1, 1, FAILOVER_ALLOWED);
	failover_policy_done(&fp);

	ck_assert_str_eq(failover_verdict_to_string(FAILOVER_EXCEEDED), "exceeded");
	ck_assert_str_eq(failover_verdict_to_string(_FAILOVER_VERDICT_MAX), "invalid");
}
END_TEST

static Suite *failover_policy_suite(void)
{
	Suite *s = suite_create("failover-policy");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_set_and_validate);
	tcase_add_test(tc, test_ws2003_example);
	tcase_add_test(tc, test_window_slides);
	tcase_add_test(tc, test_window_edges);
	tcase_add_test(tc, test_threshold_zero);
	tcase_add_test(tc, test_threshold_nodes);
	tcase_add_test(tc, test_capacity);
	tcase_add_test(tc, test_reset_and_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(failover_policy_suite());
}
