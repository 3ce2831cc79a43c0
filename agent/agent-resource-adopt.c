/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Re-attaching the monitors a previous agent left (docs/agent-restart.md):
 * the state machines come back from the store, each live monitor gets a
 * new channel when it asks for one on monitor.sock, and the commands it
 * has outstanding keep their ids, so that its answers count.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent-reattach.h"
#include "agent-resource-internal.h"
#include "channel-link.h"
#include "log.h"

int agent_resources_set_reattach(struct agent_resources *rs, const char *runtime_dir,
				 uint64_t orphan_timeout_ms, struct volatile_store *store)
{
	free(rs->reattach_env);
	free(rs->orphan_env);
	rs->reattach_env = rs->orphan_env = NULL;
	volatile_store_free(rs->store);
	rs->store = store;
	if (asprintf(&rs->reattach_env, LINK_ENV_SOCKET "=%s/" LINK_SOCKET_NAME, runtime_dir) < 0) {
		rs->reattach_env = NULL;
		return -ENOMEM;
	}
	if (orphan_timeout_ms &&
	    asprintf(&rs->orphan_env, LINK_ENV_ORPHAN_TIMEOUT "=%" PRIu64, orphan_timeout_ms) < 0) {
		rs->orphan_env = NULL;
		return -ENOMEM;
	}
	return 0;
}

size_t agent_resources_adopting(const struct agent_resources *rs)
{
	return rs->n_adopting;
}

/* The timers the state machine had armed, armed again here (their times are CLOCK_MONOTONIC). */
static void rearm_timers(struct agent_res *r)
{
	for (unsigned t = 0; t < _RES_TIMER_MAX; t++)
		if (r->fsm.timer_at[t])
			act_set_timer(r, (enum res_timer) t, r->fsm.timer_at[t]);
}

void adopt_abandon(struct agent_res *r)
{
	if (!r->adopting)
		return;
	r->adopting = false;
	r->rs->n_adopting--;
	rearm_timers(r);
}

void agent_resources_restored_died(struct agent_res *r)
{
	log_warning("Resource %s: its monitor ended while no agent ran.", res_name(r));
	r->restored = false;
	rearm_timers(r);
	res_run(r, &(struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = r->fsm.monitor_gen});
}

static const struct volatile_entry *find_entry(const struct volatile_entry *old, size_t n,
					       uint32_t kind, const uint8_t id[SHM_ID_SIZE])
{
	for (size_t i = 0; i < n; i++)
		if (old[i].kind == kind && memcmp(old[i].id, id, SHM_ID_SIZE) == 0)
			return &old[i];
	return NULL;
}

/*
 * Groups: their last published state and sequence, so that a reader's
 * sequence goes on (a state different from the restored one is a new
 * sequence, never an old one again).  Their records follow in this commit.
 */
static void groups_restore(struct agent_resources *rs, const struct volatile_entry *old,
			   size_t n_old)
{
	for (size_t gi = 0; gi < rs->model->n_groups; gi++) {
		struct agent_group *g = &rs->model->groups[gi];
		const struct volatile_entry *e;

		if (!g->used)
			continue;
		e = find_entry(old, n_old, VOLATILE_GROUP, g->id);
		if (!e || e->group_seq < g->state_seq)
			continue;
		g->state = e->group_state;
		g->state_seq = e->group_seq;
		group_store_sync(rs, gi);
		agent_resources_group_changed(rs, gi, 0, true);
	}
}

/* A pidfd of the monitor of e, if that very process still runs; -ESRCH if not. */
static int monitor_find(const struct volatile_entry *e, int *ret_pidfd)
{
	uint64_t start;
	int fd, k;

	if (e->pid <= 0 || e->pid == getpid())
		return -ESRCH;
	fd = (int) syscall(SYS_pidfd_open, (pid_t) e->pid, 0);
	if (fd < 0)
		return -errno;
	/* After the pidfd: if the start time matches now, the pidfd is that process's. */
	k = proc_start_time(e->pid, &start);
	if (k < 0 || start != e->pid_start) {
		safe_close(fd);
		return k < 0 ? k : -ESRCH;
	}
	*ret_pidfd = fd;
	return 0;
}

static int on_adopt_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct agent_resources *rs = userdata;

	(void) s, (void) usec;
	for (size_t i = 0; i < rs->model->n_resources && rs->n_adopting > 0; i++) {
		struct agent_res *r = &rs->res[i];

		if (!r->active || !r->adopting)
			continue;
		log_warning("Resource %s: monitor %d did not ask to be re-attached in time; "
			    "killing it.",
			    res_name(r), (int) r->mon->proc.pid);
		(void) monitor_signal(&r->mon->proc, SIGKILL); /* its pidfd brings its death */
		adopt_abandon(r);
	}
	return 0;
}

/* r's state machine from e, with r's properties and persistent state (the configuration's). */
static int fsm_restore(struct agent_res *r, const struct volatile_entry *e)
{
	struct res_props props = r->fsm.props;
	bool target = r->fsm.target_online;
	const char *key = NULL;
	int k;

	r->fsm = e->fsm;
	k = res_fsm_set_props(&r->fsm, &props, &key);
	if (k < 0) {
		log_warning_errno(k, "Resource %s: the restored state has an invalid %s: %m",
				  res_name(r), key ?: "property");
		return k;
	}
	r->fsm.target_online = target;
	r->fsm.removed = false;
	return 0;
}

size_t agent_resources_restore(struct agent_resources *rs, const struct volatile_entry *old,
			       size_t n_old, uint64_t timeout_usec)
{
	uint64_t now;
	int k;

	agent_resources_begin(rs); /* one commit: the groups derive their states once */
	groups_restore(rs, old, n_old);
	for (size_t i = 0; i < rs->model->n_resources; i++) {
		struct agent_res *r = &rs->res[i];
		const struct volatile_entry *e;
		struct agent_monitor *m;
		int pidfd = -EBADF;

		if (!r->active)
			continue;
		e = find_entry(old, n_old, VOLATILE_RESOURCE, res_model(r)->id);
		if (!e)
			continue;
		rs->channel_ids = MAX(rs->channel_ids, e->channel_id);
		k = monitor_find(e, &pidfd);
		if (fsm_restore(r, e) < 0) {
			/* Not trusted: a new monitor, after this one is gone. */
			if (k >= 0) {
				(void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
				safe_close(pidfd);
			}
			continue;
		}
		r->restored = true;
		if (k < 0) {
			log_info("Resource %s: restored; its monitor %d is gone.", res_name(r),
				 (int) e->pid);
			res_republish(r);
			continue;
		}
		m = calloc(1, sizeof(*m));
		if (!m) {
			(void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			safe_close(pidfd);
			continue;
		}
		*m = (struct agent_monitor){
			.rs = rs,
			.owner = r,
			.proc = {.pid = e->pid, .pidfd = pidfd},
			.gen = e->monitor_gen,
			.link_fd = -EBADF,
			.channel_id = e->channel_id,
			.pid_start = e->pid_start,
			.adopted = true,
		};
		k = monitor_watch(rs, m);
		if (k < 0) {
			log_error_errno(k, "Resource %s: failed to watch monitor %d: %m", res_name(r),
					(int) e->pid);
			(void) monitor_signal(&m->proc, SIGKILL);
			monitor_proc_done(&m->proc);
			free(m);
			res_republish(r);
			continue;
		}
		r->mon = m;
		r->adopting = true;
		rs->n_adopting++;
		log_info("Resource %s: restored %s; waiting for monitor %d to re-attach.",
			 res_name(r), res_state_to_string(r->fsm.state), (int) e->pid);
		res_republish(r); /* also its store entry, in case we die before it re-attaches */
	}
	agent_resources_end(rs);
	if (rs->n_adopting == 0)
		return 0;
	k = sd_event_now(rs->event, CLOCK_MONOTONIC, &now);
	if (k >= 0)
		k = sd_event_add_time(rs->event, &rs->adopt_timer, CLOCK_MONOTONIC,
				      now + timeout_usec, TIMER_ACCURACY_USEC, on_adopt_timeout, rs);
	if (k < 0) {
		log_error_errno(k, "Failed to arm the re-attach timeout: %m");
		on_adopt_timeout(NULL, 0, rs);
	}
	return rs->n_adopting;
}

/* The commands the state machine has outstanding, in the new channel with their ids. */
static int restore_commands(struct agent_res *r)
{
	const struct res_fsm *f = &r->fsm;

	for (int cls = 0; cls < _CHAN_CLASS_MAX; cls++) {
		uint64_t id = f->cmd_id[cls];
		uint32_t op;
		int k;

		if (id == 0 || id == RES_CMD_UNBOUND)
			continue;
		switch (cls) {
		case CHAN_CLASS_TRANSITION:
			op = f->op;
			break;
		case CHAN_CLASS_TERMINATE:
			op = CHAN_OP_TERMINATE;
			break;
		case CHAN_CLASS_LOOKS_ALIVE:
		case CHAN_CLASS_IS_ALIVE:
			op = f->probe;
			break;
		default:
			op = CHAN_OP_NONE; /* a control code's answer goes to a requester who is gone */
			break;
		}
		if (op == CHAN_OP_NONE)
			continue;
		k = chan_agent_restore(r->chan, 0, (enum chan_cmd_class) cls, (enum chan_op) op, id,
				       0);
		if (k < 0)
			return k;
	}
	return 0;
}

int agent_resources_adopt(void *userdata, uint64_t channel_id, pid_t pid, int fd)
{
	struct agent_resources *rs = userdata;
	struct agent_res *r = NULL;
	struct chan_fds cf;
	int k;

	if (rs->stopping)
		return -ESHUTDOWN;
	for (size_t i = 0; i < rs->model->n_resources; i++) {
		struct agent_res *c = &rs->res[i];

		if (c->active && c->adopting && c->mon && c->mon->proc.pid == pid &&
		    c->mon->channel_id == channel_id) {
			r = c;
			break;
		}
	}
	if (!r)
		return -ESRCH;

	k = channel_open(r);
	if (k >= 0)
		k = restore_commands(r);
	if (k >= 0)
		k = chan_agent_fds(r->chan, &cf);
	if (k >= 0)
		k = agent_link_send_adopt(fd, (const int[4]){cf.producer, cf.agent, cf.mon_bell,
							      cf.agent_bell});
	if (k < 0) {
		log_warning_errno(k, "Resource %s: failed to re-attach monitor %d: %m", res_name(r),
				  (int) pid);
		channel_close(r);
		return k; /* refused: the monitor closes its resource and exits; its death follows */
	}
	(void) chan_agent_release_memfds(r->chan);
	r->mon->channel_id = rs->channel_ids;
	r->mon->link_fd = fd;
	adopt_abandon(r); /* no longer waiting; timers armed again */
	log_info("Resource %s: re-attached monitor %d (%s).", res_name(r), (int) pid,
		 res_state_to_string(r->fsm.state));
	res_republish(r);
	if (chan_agent_prepare_sleep(r->chan) == 1)
		drain_later(r);
	if (rs->n_adopting == 0)
		rs->adopt_timer = sd_event_source_disable_unref(rs->adopt_timer);
	return 1;
}

int agent_resources_detach(struct agent_resources *rs)
{
	if (rs->stopping)
		return 0;
	rs->stopping = true;
	log_info("Leaving %zu resources to their monitors for the next agent.",
		 rs->model->live_resources);
	return sd_event_exit(rs->event, 0);
}
