/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The restart policy (agent/restart-policy.c): the sliding window of
 * semantics.md §4.3 with its worked example, the escalation by RestartAction,
 * the retry after RetryPeriodOnFailure, and the window's capacity.
 */

#include <check.h>
#include <stdlib.h>

#include "restart-policy.h"
#include "test-util.h"
#include "time-util.h"

#define T0    (UINT64_C(1000) * NSEC_PER_SEC)
#define MS(x) ((uint64_t) (x) *NSEC_PER_MSEC)

static struct res_props props(uint32_t action, uint32_t threshold, uint32_t period_ms)
{
	struct res_props p;

	res_props_init(&p);
	p.restart_action = action;
	p.restart_threshold = threshold;
	p.restart_period_ms = period_ms;
	if (p.retry_period_ms < period_ms)
		p.retry_period_ms = period_ms;
	ck_assert_int_eq(res_props_validate(&p, NULL), 0);
	return p;
}

/* One failure at T0 + ms: checks the verdict and the time it names (0: none). */
static void failure(struct restart_policy *rp, const struct res_props *p, uint64_t ms,
		    enum restart_verdict want, uint64_t want_at)
{
	uint64_t at = 42;
	enum restart_verdict v = restart_policy_failure(rp, p, T0 + MS(ms), &at);

	ck_assert_msg(v == want, "failure at +%llu ms: %s, expected %s", (unsigned long long) ms,
		      restart_verdict_to_string(v), restart_verdict_to_string(want));
	ck_assert_uint_eq(at, want_at);
}

START_TEST(test_defaults)
{
	struct res_props p = props(RES_RESTART_NOTIFY, 3, 900000);
	struct restart_policy rp;

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 1000, RESTART_AFTER_DELAY, T0 + MS(1500));
	failure(&rp, &p, 2000, RESTART_AFTER_DELAY, T0 + MS(2500));
	failure(&rp, &p, 3000, RESTART_ESCALATE, T0 + MS(3000 + 3600000));
	ck_assert_uint_eq(restart_policy_count(&rp, &p, T0 + MS(3000)), 4);
}
END_TEST

/* The RestartThreshold/RestartPeriod example: threshold 2, period 200 ms. */
START_TEST(test_worked_example)
{
	struct res_props p = props(RES_RESTART_NOTIFY, 2, 200);
	struct restart_policy rp;

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 100, RESTART_AFTER_DELAY, T0 + MS(600));
	failure(&rp, &p, 150, RESTART_ESCALATE, T0 + MS(150 + 3600000)); /* third inside 200 ms */

	/* The same three spread out: never more than two in any 200 ms. */
	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 150, RESTART_AFTER_DELAY, T0 + MS(650));
	failure(&rp, &p, 300, RESTART_AFTER_DELAY, T0 + MS(800)); /* 0 is out, 150 and 300 in */
	failure(&rp, &p, 450, RESTART_AFTER_DELAY, T0 + MS(950));
	ck_assert_uint_eq(restart_policy_count(&rp, &p, T0 + MS(450)), 2);
}
END_TEST

/* The window is closed: a failure exactly RestartPeriod old still counts. */
START_TEST(test_window_edges)
{
	struct res_props p = props(RES_RESTART_NOTIFY, 2, 200);
	struct restart_policy rp;

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 100, RESTART_AFTER_DELAY, T0 + MS(600));
	failure(&rp, &p, 200, RESTART_ESCALATE, T0 + MS(200 + 3600000));

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 100, RESTART_AFTER_DELAY, T0 + MS(600));
	failure(&rp, &p, 201, RESTART_AFTER_DELAY, T0 + MS(701));
}
END_TEST

/*
 * Sliding, not fixed: with fixed 200 ms windows [0,200) [200,400) the
 * failure at 300 would be the second of its window; sliding, 150, 250 and
 * 300 are three inside [100, 300].
 */
START_TEST(test_sliding_not_fixed)
{
	struct res_props p = props(RES_RESTART_LOCAL, 2, 200);
	struct restart_policy rp;

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 150, RESTART_AFTER_DELAY, T0 + MS(650));
	failure(&rp, &p, 250, RESTART_AFTER_DELAY, T0 + MS(750));
	failure(&rp, &p, 300, RESTART_STAY_FAILED, T0 + MS(300 + 3600000));
}
END_TEST

/* Acceptance scenarios 31 and 32: threshold 2, period 10 s. */
START_TEST(test_scenarios_31_32)
{
	struct res_props p = props(RES_RESTART_NOTIFY, 2, 10000);
	struct restart_policy rp;

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 4000, RESTART_AFTER_DELAY, T0 + MS(4500));
	failure(&rp, &p, 8000, RESTART_ESCALATE, T0 + MS(8000 + 3600000));

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 15000, RESTART_AFTER_DELAY, T0 + MS(15500));
	failure(&rp, &p, 30000, RESTART_AFTER_DELAY, T0 + MS(30500));
}
END_TEST

START_TEST(test_threshold_zero)
{
	struct res_props p = props(RES_RESTART_NOTIFY, 0, 900000);
	struct restart_policy rp;

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_ESCALATE, T0 + MS(3600000));
	p.restart_action = RES_RESTART_LOCAL;
	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_STAY_FAILED, T0 + MS(3600000));
}
END_TEST

/* Scenario 34: RestartAction 0, no restart and no retry, whatever the count. */
START_TEST(test_action_none)
{
	struct res_props p = props(RES_RESTART_NONE, 3, 900000);
	struct restart_policy rp;

	restart_policy_reset(&rp);
	for (int i = 0; i < 6; i++)
		failure(&rp, &p, (uint64_t) i * 10, RESTART_NOT_ALLOWED, 0);
}
END_TEST

/* Scenario 35: one retry after RetryPeriodOnFailure; if it fails, give up; never = no retry. */
START_TEST(test_retry)
{
	struct res_props p = props(RES_RESTART_LOCAL, 1, 1000);
	struct restart_policy rp;

	p.retry_period_ms = 60000;
	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 600, RESTART_STAY_FAILED, T0 + MS(60600));
	restart_policy_retry_begin(&rp);
	failure(&rp, &p, 60700, RESTART_GIVE_UP, 0);

	/* A retry that comes online ends the retry: later failures count normally. */
	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 600, RESTART_STAY_FAILED, T0 + MS(60600));
	restart_policy_retry_begin(&rp);
	restart_policy_recovered(&rp);
	failure(&rp, &p, 90000, RESTART_AFTER_DELAY, T0 + MS(90500));

	p.retry_period_ms = RES_RETRY_NEVER;
	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	failure(&rp, &p, 600, RESTART_STAY_FAILED, 0);
}
END_TEST

/* The largest threshold: 255 restarts, the 256th failure escalates, and so does every later one. */
START_TEST(test_capacity)
{
	struct res_props p = props(RES_RESTART_NOTIFY, RES_RESTART_THRESHOLD_MAX, 900000);
	struct restart_policy rp;
	uint64_t i;

	restart_policy_reset(&rp);
	for (i = 0; i < RES_RESTART_THRESHOLD_MAX; i++)
		failure(&rp, &p, i, RESTART_AFTER_DELAY, T0 + MS(i + 500));
	for (; i < 3 * RESTART_WINDOW_MAX; i++)
		failure(&rp, &p, i, RESTART_ESCALATE, T0 + MS(i + 3600000));
	ck_assert_uint_eq(restart_policy_count(&rp, &p, T0 + MS(i)), RESTART_WINDOW_MAX);
	/* A period later all have expired. */
	ck_assert_uint_eq(restart_policy_count(&rp, &p, T0 + MS(i + 900000)), 0);
	failure(&rp, &p, i + 900000, RESTART_AFTER_DELAY, T0 + MS(i + 900500));
}
END_TEST

START_TEST(test_reset_and_names)
{
	struct res_props p = props(RES_RESTART_NOTIFY, 1, 900000);
	struct restart_policy rp;

	restart_policy_reset(&rp);
	failure(&rp, &p, 0, RESTART_AFTER_DELAY, T0 + MS(500));
	restart_policy_reset(&rp);
	ck_assert_uint_eq(restart_policy_count(&rp, &p, T0), 0);
	failure(&rp, &p, 1, RESTART_AFTER_DELAY, T0 + MS(501));

	ck_assert_str_eq(restart_verdict_to_string(RESTART_ESCALATE), "escalate");
	ck_assert_str_eq(restart_verdict_to_string(_RESTART_VERDICT_MAX), "invalid");
}
END_TEST

static Suite *restart_policy_suite(void)
{
	Suite *s = suite_create("restart-policy");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_worked_example);
	tcase_add_test(tc, test_window_edges);
	tcase_add_test(tc, test_sliding_not_fixed);
	tcase_add_test(tc, test_scenarios_31_32);
	tcase_add_test(tc, test_threshold_zero);
	tcase_add_test(tc, test_action_none);
	tcase_add_test(tc, test_retry);
	tcase_add_test(tc, test_capacity);
	tcase_add_test(tc, test_reset_and_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(restart_policy_suite());
}
