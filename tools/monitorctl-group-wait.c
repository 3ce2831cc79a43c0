/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Waiting for a group online or offline to end, by reading the group and
 * its members every millisecond.  Only a group state newer than the agent's
 * answer (a larger state_seq) counts.  The target state ends the wait, and
 * Failed does at once (a member failed: semantics.md §5.1, rule 1).  Any
 * other state -- partial-online, or the opposite of the target -- ends it
 * only once it has settled (WAIT_SETTLE_NS with no newer group state and no
 * member pending or initializing): the agent starts a dependent after its
 * provider is Online, so a group online may show partial-online between
 * two members, and an offline the same between a dependent and its
 * provider.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "monitorctl-output.h"
#include "monitorctl-wait.h"
#include "monitorctl.h"
#include "time-util.h"

#define KIND_GROUP	  2u /* hagent_shm_find() */
#define WAIT_GO_ON	  (-1)
#define NAMES_LISTED_MAX  8 /* members named in a message, then "..." */
#define PROGRESS_LINE_MAX 160

struct group_waiter {
	const char *name;
	bool online;
	uint32_t seq0; /* the sequence the agent answered */
	/* The member list, as of the last read. */
	struct hagent_resource *members;
	size_t n_members, cap;
	/* A state other than the target, since when (monotonic ns); 0: none. */
	uint32_t settle_seq;
	uint64_t settle_since;
	/* The progress line on a terminal: what it shows now (its length, to clear it). */
	bool tty;
	char progress[PROGRESS_LINE_MAX];
};

static const char *target_name(const struct group_waiter *w)
{
	return w->online ? "online" : "offline";
}

/* Whether a member counts as being where the operation takes it. */
static bool member_done(const struct group_waiter *w, const struct hagent_resource *m)
{
	if (w->online)
		return m->state == HAGENT_RESOURCE_ONLINE;
	/* Initializing counts as Offline in the group's state (semantics.md §5.1). */
	return m->state == HAGENT_RESOURCE_OFFLINE || m->state == HAGENT_RESOURCE_INITIALIZING;
}

static size_t members_done(const struct group_waiter *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->n_members; i++)
		n += member_done(w, &w->members[i]);
	return n;
}

/* A member on its way: the agent still acts on the group. */
static bool members_busy(const struct group_waiter *w)
{
	for (size_t i = 0; i < w->n_members; i++)
		switch (w->members[i].state) {
		case HAGENT_RESOURCE_ONLINE_PENDING:
		case HAGENT_RESOURCE_OFFLINE_PENDING:
		case HAGENT_RESOURCE_INITIALIZING:
			return true;
		default:
			break;
		}
	return false;
}

/* ==================================== progress ==================================== */

static void progress_clear(struct group_waiter *w)
{
	size_t len = strlen(w->progress);

	if (!w->tty || len == 0)
		return;
	fprintf(stderr, "\r%*s\r", (int) len, "");
	fflush(stderr);
	w->progress[0] = '\0';
}

/* "g: pending, 3 of 5 online", rewritten in place when it changes; only on a terminal. */
static void progress_show(struct group_waiter *w, const struct hagent_group *g)
{
	char line[PROGRESS_LINE_MAX];
	size_t old = strlen(w->progress), len;

	if (!w->tty)
		return;
	snprintf(line, sizeof(line), "%s: %s, %zu of %zu %s", w->name, group_state_name(g->state),
		 members_done(w), w->n_members, target_name(w));
	if (strcmp(line, w->progress) == 0)
		return;
	len = strlen(line);
	/* Blanks over the rest of a longer previous line. */
	fprintf(stderr, "\r%s%*s", line, old > len ? (int) (old - len) : 0, "");
	if (old > len)
		fprintf(stderr, "\r%s", line);
	fflush(stderr);
	memcpy(w->progress, line, len + 1);
}

/* ==================================== endings ==================================== */

/* The members that failed, with their errors: "resource 'a' failed: <error>; ...". */
static int failed(struct group_waiter *w)
{
	size_t listed = 0;

	progress_clear(w);
	fprintf(stderr, "monitorctl: Group '%s' failed", w->name);
	for (size_t i = 0; i < w->n_members; i++) {
		const struct hagent_resource *m = &w->members[i];

		if (m->state != HAGENT_RESOURCE_FAILED)
			continue;
		if (listed++ == NAMES_LISTED_MAX) {
			fputs("; ...", stderr);
			break;
		}
		fprintf(stderr, "%sresource '%s' failed", listed == 1 ? ": " : "; ", m->name);
		if (m->last_error < 0)
			fprintf(stderr, ": %s", strerror(-m->last_error));
	}
	fputc('\n', stderr);
	return EXIT_FAIL;
}

/* The group settled elsewhere than the target: the members that are not there. */
static int stopped(struct group_waiter *w, const struct hagent_group *g)
{
	size_t listed = 0;

	progress_clear(w);
	fprintf(stderr, "monitorctl: Group '%s' stopped at %s: %zu of %zu %s", w->name,
		group_state_name(g->state), members_done(w), w->n_members, target_name(w));
	for (size_t i = 0; i < w->n_members; i++) {
		const struct hagent_resource *m = &w->members[i];

		if (member_done(w, m))
			continue;
		if (listed++ == NAMES_LISTED_MAX) {
			fputs(", ...", stderr);
			break;
		}
		if (listed == 1)
			fprintf(stderr, "; not %s: ", target_name(w));
		else
			fputs(", ", stderr);
		fprintf(stderr, "%s (%s)", m->name, resource_state_name(m->state));
	}
	fputc('\n', stderr);
	return EXIT_FAIL;
}

/* The exit code once the operation has ended, else WAIT_GO_ON. */
static int judge(struct group_waiter *w, const struct hagent_group *g)
{
	int32_t target = w->online ? HAGENT_GROUP_ONLINE : HAGENT_GROUP_OFFLINE;
	uint64_t now;

	if ((int32_t) (g->state_seq - w->seq0) <= 0)
		return WAIT_GO_ON; /* nothing newer than the answer */
	if (g->state == target)
		return EXIT_OK;
	if (g->state == HAGENT_GROUP_FAILED)
		return failed(w);
	if (g->state == HAGENT_GROUP_PENDING || members_busy(w)) {
		w->settle_since = 0;
		return WAIT_GO_ON;
	}
	now = now_ns(CLOCK_MONOTONIC);
	if (w->settle_since == 0 || w->settle_seq != g->state_seq) {
		w->settle_seq = g->state_seq;
		w->settle_since = now;
		return WAIT_GO_ON;
	}
	if (now - w->settle_since < WAIT_SETTLE_NS)
		return WAIT_GO_ON;
	return stopped(w, g);
}

/* ===================================== reading ===================================== */

/* The group at slot and its members, as of one commit; the member buffer grows as needed. */
static int group_read(hagent_shm *s, struct group_waiter *w, uint32_t slot, struct hagent_group *g)
{
	size_t n;
	int r;

	for (;;) {
		r = hagent_shm_read_group(s, slot, g, w->members, w->cap, &n);
		if (r < 0)
			return r;
		if (n <= w->cap)
			break;
		struct hagent_resource *m = realloc(w->members, n * sizeof(*m));

		if (!m)
			return -ENOMEM;
		w->members = m;
		w->cap = n;
	}
	w->n_members = n;
	for (size_t i = 0; i < n; i++)
		w->members[i].name[HAGENT_NAME_MAX - 1] = '\0';
	g->name[HAGENT_NAME_MAX - 1] = '\0';
	return 0;
}

static int removed(struct group_waiter *w)
{
	progress_clear(w);
	fprintf(stderr, "monitorctl: Group '%s' was removed\n", w->name);
	return EXIT_FAIL;
}

static int read_failed(struct group_waiter *w, int r)
{
	progress_clear(w);
	fprintf(stderr, "monitorctl: cannot read '%s': %s\n", w->name, hagent_shm_strerror(r));
	return EXIT_FAIL;
}

/* One look at the group; the exit code once done, else WAIT_GO_ON. */
static int poll_once(hagent_shm *s, struct group_waiter *w, uint32_t slot,
		     const uint8_t id[HAGENT_ID_SIZE], struct hagent_group *cur)
{
	int r;

	r = group_read(s, w, slot, cur);
	if (r == -EBUSY)
		return WAIT_GO_ON; /* a busy writer outran the read: next tick */
	if (r == -ENOENT || (r == 0 && memcmp(cur->id, id, HAGENT_ID_SIZE) != 0))
		return removed(w);
	if (r < 0)
		return read_failed(w, r);
	r = judge(w, cur);
	if (r == WAIT_GO_ON) /* not for the end: the line is cleared right after */
		progress_show(w, cur);
	return r;
}

static int timed_out(struct group_waiter *w, uint64_t timeout_ns, const struct hagent_group *g)
{
	progress_clear(w);
	fprintf(stderr,
		"monitorctl: timed out after %.3f s waiting for group '%s' to go %s (it is %s, "
		"%zu of %zu %s)\n",
		(double) timeout_ns / (double) NSEC_PER_SEC, w->name, target_name(w),
		group_state_name(g->state), members_done(w), w->n_members, target_name(w));
	return EXIT_TIMED_OUT;
}

int group_wait(hagent_shm *s, const char *name, bool online, const struct control_result *from,
	       uint64_t timeout_ns, int control_fd, struct hagent_group *ret)
{
	struct group_waiter w = {
		.name = name,
		.online = online,
		.seq0 = from->state_seq,
		.tty = isatty(STDERR_FILENO),
	};
	uint64_t start = now_ns(CLOCK_MONOTONIC), next = start;
	uint8_t id[HAGENT_ID_SIZE];
	struct hagent_group cur = {};
	bool closed = false;
	uint32_t slot;
	int r;

	r = hagent_shm_find(s, KIND_GROUP, name, &slot);
	if (r >= 0)
		r = group_read(s, &w, slot, &cur);
	if (r == -ENOENT)
		r = removed(&w);
	else if (r < 0)
		r = read_failed(&w, r);
	else {
		memcpy(id, cur.id, sizeof(id));
		r = WAIT_GO_ON;
	}
	while (r == WAIT_GO_ON) {
		r = poll_once(s, &w, slot, id, &cur);
		if (r != WAIT_GO_ON)
			break;
		if (wait_agent_gone(s, wait_connection_closed(control_fd, &closed))) {
			progress_clear(&w);
			fprintf(stderr,
				"monitorctl: hagentd stopped while waiting for group '%s'\n", name);
			r = EXIT_NOT_RUNNING;
			break;
		}
		if (timeout_ns && now_ns(CLOCK_MONOTONIC) - start >= timeout_ns) {
			r = timed_out(&w, timeout_ns, &cur);
			break;
		}
		wait_tick_sleep(&next);
	}
	progress_clear(&w);
	if (r == EXIT_OK)
		*ret = cur;
	free(w.members);
	return r;
}
