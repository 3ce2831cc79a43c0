/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hagentd's STATUS= line (agent/agent-status.c): the text, and what reaches
 * a NOTIFY_SOCKET the test binds itself: a first change at once, later ones
 * within 100 ms coalesced into one line with the latest counts, nothing for
 * unchanged counts, a retry after a failed send, nothing outside systemd.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "agent-status.h"
#include "test-util.h"

static char sockdir[64], sockpath[96];
static int sock = -EBADF;

static void setup(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(sockdir, sizeof(sockdir), "/tmp/test-agent-status-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sockdir));
	snprintf(sockpath, sizeof(sockpath), "%s/notify", sockdir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(bind(sock, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", sockpath, 1), 0);
}

static void teardown(void)
{
	sock = safe_close(sock);
	(void) unlink(sockpath);
	(void) rmdir(sockdir);
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* The next datagram into buf (NUL-terminated); false if none is queued. */
static bool recv_line(char *buf, size_t size)
{
	ssize_t n = recv(sock, buf, size - 1, 0);

	if (n < 0) {
		ck_assert_int_eq(errno, EAGAIN);
		return false;
	}
	buf[n] = '\0';
	return true;
}

static void expect_none(void)
{
	char buf[512];

	ck_assert_msg(!recv_line(buf, sizeof(buf)), "unexpected datagram '%s'", buf);
}

/* The next datagram must be "STATUS=" + the text of c. */
static void expect_status(const struct agent_status_counts *c)
{
	char buf[512], want[512], text[256];

	agent_status_text(c, text, sizeof(text));
	snprintf(want, sizeof(want), "STATUS=%s", text);
	ck_assert_msg(recv_line(buf, sizeof(buf)), "no datagram, expected '%s'", want);
	ck_assert_str_eq(buf, want);
}

/* Runs the loop until a datagram is queued (at most 10 s); returns when it came. */
static uint64_t run_until_datagram(sd_event *e)
{
	uint64_t end = mono_usec() + 10 * 1000000;
	char buf[1];

	while (recv(sock, buf, sizeof(buf), MSG_PEEK) < 0) {
		ck_assert_int_eq(errno, EAGAIN);
		ck_assert_msg(mono_usec() < end, "no STATUS= line within 10 s");
		ck_assert_int_ge(sd_event_run(e, 20 * 1000), 0);
	}
	return mono_usec();
}

START_TEST(test_text)
{
	char buf[128];

	agent_status_text(&(struct agent_status_counts){97, 2, 1, 0, 0, 10}, buf, sizeof(buf));
	ck_assert_str_eq(buf,
			 "100 resources: 97 online, 2 pending, 1 failed, 0 offline; 10 groups.");
	agent_status_text(&(struct agent_status_counts){0, 0, 0, 1, 0, 1}, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1 resource: 0 online, 0 pending, 0 failed, 1 offline; 1 group.");
	agent_status_text(&(struct agent_status_counts){}, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0 resources: 0 online, 0 pending, 0 failed, 0 offline; 0 groups.");
	agent_status_text(&(struct agent_status_counts){3, 0, 0, 0, 2, 1}, buf, sizeof(buf));
	ck_assert_str_eq(
		buf, "5 resources: 3 online, 0 pending, 0 failed, 0 offline, 2 other; 1 group.");
	/* Truncated, NUL-terminated; size 0 writes nothing. */
	agent_status_text(&(struct agent_status_counts){97, 2, 1, 0, 0, 10}, buf, 9);
	ck_assert_str_eq(buf, "100 reso");
	buf[0] = 'x';
	agent_status_text(&(struct agent_status_counts){97, 2, 1, 0, 0, 10}, buf, 0);
	ck_assert_int_eq(buf[0], 'x');
}
END_TEST

START_TEST(test_coalescing)
{
	struct agent_status_counts a = {1, 0, 0, 4, 0, 1}, b = {2, 0, 0, 3, 0, 1},
				   c = {3, 1, 0, 1, 0, 1}, d = {3, 0, 1, 1, 0, 1};
	_cleanup_(agent_status_freep) struct agent_status *st = NULL;
	sd_event *e = NULL;
	uint64_t t_a, t_c, t_d;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(agent_status_new(e, &st), 0);
	/* One iteration fixes the loop's time: the updates below happen "at once". */
	ck_assert_int_ge(sd_event_run(e, 0), 0);

	/* The first change goes out at once. */
	agent_status_update(st, &a);
	t_a = mono_usec();
	expect_status(&a);
	/* Unchanged counts send nothing. */
	agent_status_update(st, &a);
	expect_none();
	/* b and c within the interval: one line, c's, when the interval is over. */
	agent_status_update(st, &b);
	agent_status_update(st, &c);
	expect_none();
	t_c = run_until_datagram(e);
	expect_status(&c);
	expect_none();
	ck_assert_msg(t_c - t_a >= AGENT_STATUS_INTERVAL_USEC - 2000, "second line after %llu us",
		      (unsigned long long) (t_c - t_a));
	/* Right after that line, d waits for the next interval too. */
	agent_status_update(st, &d);
	expect_none();
	t_d = run_until_datagram(e);
	expect_status(&d);
	ck_assert_msg(t_d - t_c >= AGENT_STATUS_INTERVAL_USEC - 2000, "third line after %llu us",
		      (unsigned long long) (t_d - t_c));
	/* Back to a: changes after a quiet interval go out at once again. */
	usleep(AGENT_STATUS_INTERVAL_USEC + 50000);
	ck_assert_int_ge(sd_event_run(e, 0), 0);
	agent_status_update(st, &a);
	expect_status(&a);
	expect_none();
	/* A change reverted within the interval: the timer finds nothing new to send. */
	agent_status_update(st, &b);
	agent_status_update(st, &a);
	for (uint64_t end = mono_usec() + 3 * AGENT_STATUS_INTERVAL_USEC; mono_usec() < end;)
		ck_assert_int_ge(sd_event_run(e, 20 * 1000), 0);
	expect_none();

	st = agent_status_free(st);
	e = sd_event_unref(e);
}
END_TEST

/* A send that fails is not taken as sent: the same counts go out once the socket is back. */
START_TEST(test_retry_and_no_socket)
{
	struct agent_status_counts a = {5, 0, 0, 0, 0, 2}, b = {4, 1, 0, 0, 0, 2};
	_cleanup_(agent_status_freep) struct agent_status *st = NULL;
	char missing[160];
	sd_event *e = NULL;

	ck_assert_int_eq(sd_event_new(&e), 0);
	ck_assert_int_eq(agent_status_new(e, &st), 0);
	ck_assert_int_ge(sd_event_run(e, 0), 0);
	snprintf(missing, sizeof(missing), "%s/missing", sockdir);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", missing, 1), 0);
	agent_status_update(st, &a);
	expect_none();

	ck_assert_int_eq(setenv("NOTIFY_SOCKET", sockpath, 1), 0);
	usleep(AGENT_STATUS_INTERVAL_USEC + 50000);
	ck_assert_int_ge(sd_event_run(e, 0), 0);
	agent_status_update(st, &a);
	expect_status(&a);

	/* Outside systemd: nothing to send to, nothing fails. */
	ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
	usleep(AGENT_STATUS_INTERVAL_USEC + 50000);
	ck_assert_int_ge(sd_event_run(e, 0), 0);
	agent_status_update(st, &b);
	agent_status_update(st, &a);
	ck_assert_int_ge(sd_event_run(e, 0), 0);
	expect_none();

	/* NULL-safe. */
	agent_status_update(NULL, &a);
	agent_status_update(st, NULL);
	ck_assert_ptr_null(agent_status_free(NULL));
	ck_assert_int_eq(agent_status_new(NULL, &st), -EINVAL);
	st = agent_status_free(st);
	e = sd_event_unref(e);
}
END_TEST

static Suite *agent_status_suite(void)
{
	Suite *s = suite_create("agent-status");
	TCase *tc = tcase_create("status");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_coalescing);
	tcase_add_test(tc, test_retry_and_no_socket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(agent_status_suite());
}
