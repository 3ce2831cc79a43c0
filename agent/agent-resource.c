/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Drives each resource's state machine: feeds it the channel's statuses, its
 * timers and its monitor's death, executes the actions it returns (posts,
 * timers, monitor processes) and publishes what changed.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/param.h>
#include <sys/wait.h>
#include <time.h>

#include <sys/socket.h>

#include "agent-publish.h"
#include "agent-reattach.h"
#include "agent-resource-internal.h"
#include "channel-link.h"
#include "hagent/shm.h"
#include "log.h"
#include "resource-fsm.h"

uint64_t res_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static struct agent_resource *model_res(const struct agent_res *r)
{
	return &r->rs->model->resources[r->index];
}

struct agent_resource *res_model(const struct agent_res *r)
{
	return model_res(r);
}

const char *res_name(const struct agent_res *r)
{
	return model_res(r)->name;
}

static void queue_event(struct agent_res *r, const struct res_event *ev)
{
	if (r->n_queue >= EVENT_QUEUE_MAX) {
		log_error("Resource %s: event queue full, dropping %s.", res_name(r),
			  res_event_kind_to_string(ev->kind));
		return;
	}
	r->queue[r->n_queue++] = *ev;
}

static void params_drop(struct agent_res *r)
{
	free(r->offline_params);
	r->offline_params = NULL;
	r->offline_params_len = 0;
}

/* ---- monitors ---- */

static void monitor_unlink(struct agent_monitor *m)
{
	for (struct agent_monitor **p = &m->rs->monitors; *p; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
}

static void monitor_free(struct agent_monitor *m)
{
	m->pidfd_source = sd_event_source_disable_unref(m->pidfd_source);
	agent_scope_req_cancel(m->scope_req);
	monitor_proc_done(&m->proc);
	safe_close(m->link_fd); /* a monitor still running sees it hang up: it is an orphan now */
	free(m);
}

/* A stop that ended every monitor leaves nothing for a next agent to re-attach. */
static void store_drop(struct agent_resources *rs)
{
	volatile_store_remove(rs->store);
	rs->store = NULL;
}

static void stop_check_done(struct agent_resources *rs)
{
	if (rs->stopping && !rs->monitors) {
		store_drop(rs);
		(void) sd_event_exit(rs->event, 0);
	}
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct agent_monitor *m = userdata;
	struct agent_resources *rs = m->rs;
	struct agent_res *r = m->owner; /* NULL: its resource was removed */
	const char *name = r ? res_name(r) : "(removed)";
	int status = 0, k;

	(void) s, (void) fd, (void) revents;
	k = monitor_reap(&m->proc, &status);
	if (k == -EAGAIN)
		return 0;
	if (k == -ECHILD && m->adopted)
		log_full_errno(rs->stopping ? LOG_INFO : LOG_WARNING, 0,
			       "Resource %s: monitor %d (adopted) exited.", name,
			       (int) m->proc.pid);
	else if (k < 0)
		log_warning_errno(k, "Resource %s: failed to reap monitor %d: %m", name,
				  (int) m->proc.pid);
	else if (WIFEXITED(status))
		log_full_errno(rs->stopping || WEXITSTATUS(status) == 0 ? LOG_INFO : LOG_WARNING, 0,
			       "Resource %s: monitor %d exited with status %d.", name,
			       (int) m->proc.pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_full_errno(rs->stopping ? LOG_INFO : LOG_WARNING, 0,
			       "Resource %s: monitor %d was killed by signal %d (%s).", name,
			       (int) m->proc.pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	monitor_unlink(m);
	if (r && r->mon == m) {
		r->mon = NULL;
		if (r->adopting)
			adopt_abandon(r); /* it died before it asked to be adopted */
		r->restored = false; /* its death is the state machine's business now */
	}
	if (r && !rs->stopping)
		res_run(r, &(struct res_event){.kind = RES_EV_MONITOR_DIED, .monitor_gen = m->gen});
	monitor_free(m);
	stop_check_done(rs);
	return 0;
}

/* The outstanding control command ended: code (bytes or -errno) and its answer. */
static void control_finish(struct agent_res *r, int code, const uint8_t *data, size_t len)
{
	struct agent_resources *rs = r->rs;

	if (r->control_id == 0)
		return;
	r->control_id = 0;
	(void) sd_event_source_set_enabled(r->control_timer, SD_EVENT_OFF);
	if (rs->control_fn)
		rs->control_fn(rs->control_userdata, r->index, code, data, len);
}

/* A status of the CONTROL class: the answer to the outstanding command, or stale. */
static void control_answer(struct agent_res *r, const struct chan_status_body *b)
{
	if (b->type != CHAN_ST_DONE)
		return; /* ACCEPTED */
	if (b->cmd_id != r->control_id) {
		log_debug("Resource %s: a stale control answer; ignored.", res_name(r));
		return;
	}
	control_finish(r, b->code, b->detail, MIN((size_t) b->detail_len, sizeof(b->detail)));
}

/* Closes the channel and its sources. */
void channel_close(struct agent_res *r)
{
	control_finish(r, -ECONNRESET, NULL, 0);
	r->bell_source = sd_event_source_disable_unref(r->bell_source);
	r->drain_source = sd_event_source_disable_unref(r->drain_source);
	r->chan = chan_agent_free(r->chan);
	r->rejected_seen = 0;
}

static uint64_t rejected_total(const struct chan_agent *a)
{
	struct chan_agent_stats st;
	uint64_t n = 0;

	chan_agent_get_stats(a, &st);
	for (unsigned i = 0; i < _CHAN_REJ_MAX; i++)
		n += st.rejected[i];
	return n;
}

void drain_later(struct agent_res *r)
{
	int k = sd_event_source_set_enabled(r->drain_source, SD_EVENT_ONESHOT);

	if (k < 0)
		log_error_errno(k, "Resource %s: failed to schedule a drain: %m", res_name(r));
}

/* Hands the channel's statuses to the state machine, then re-arms the bell. */
static void channel_drain(struct agent_res *r)
{
	struct chan_status_body buf[DRAIN_BATCH];
	struct chan_agent *chan = r->chan;
	uint64_t rejected;
	size_t n = 0;
	int k;

	if (!chan)
		return;
	k = chan_agent_drain(chan, buf, ELEMENTSOF(buf), &n);
	if (k < 0) {
		log_error_errno(k, "Resource %s: failed to read the channel: %m", res_name(r));
		return;
	}
	rejected = rejected_total(chan);
	if (rejected != r->rejected_seen) {
		log_warning("Resource %s: the monitor wrote %" PRIu64
			    " invalid status entries (%" PRIu64 " in all); ignored.",
			    res_name(r), rejected - r->rejected_seen, rejected);
		r->rejected_seen = rejected;
	}
	for (size_t i = 0; i < n; i++) {
		struct res_event ev;

		if (buf[i].cls == CHAN_CLASS_CONTROL) { /* the state machine never posts these */
			control_answer(r, &buf[i]);
			continue;
		}
		if (res_event_from_status(&buf[i], &ev) < 0) {
			log_debug("Resource %s: ignoring a status of type %u.", res_name(r),
				  buf[i].type);
			continue;
		}
		res_run(r, &ev);
		if (r->chan != chan)
			return; /* a new monitor: the rest was the old one's */
	}
	if (k == 1 || chan_agent_prepare_sleep(chan) == 1)
		drain_later(r); /* more to read: from a deferred source, not in a loop */
}

static int on_bell(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct agent_res *r = userdata;

	(void) s, (void) fd, (void) revents;
	if (r->rs->stopping || !r->chan)
		return 0;
	chan_agent_woken(r->chan);
	channel_drain(r);
	return 0;
}

static int on_drain(sd_event_source *s, void *userdata)
{
	struct agent_res *r = userdata;

	(void) s;
	if (!r->rs->stopping)
		channel_drain(r);
	return 0;
}

int channel_open(struct agent_res *r)
{
	struct agent_resources *rs = r->rs;
	int k;

	k = chan_agent_new(1, ++rs->channel_ids, &r->chan);
	if (k < 0)
		return k;
	k = sd_event_add_io(rs->event, &r->bell_source, chan_agent_bell_fd(r->chan), EPOLLIN,
			    on_bell, r);
	if (k >= 0)
		k = sd_event_add_defer(rs->event, &r->drain_source, on_drain, r);
	if (k >= 0)
		k = sd_event_source_set_enabled(r->drain_source, SD_EVENT_OFF);
	if (k < 0)
		channel_close(r);
	return k;
}

static int program_path(const struct agent_res *r, char **ret)
{
	const char *type = model_res(r)->type;

	if (!*type || strchr(type, '/') || strcmp(type, ".") == 0 || strcmp(type, "..") == 0)
		return -ENOENT;
	if (asprintf(ret, "%s/hamon-%s", r->rs->monitor_dir, type) < 0)
		return -ENOMEM;
	return 0;
}

int monitor_watch(struct agent_resources *rs, struct agent_monitor *m)
{
	int k = sd_event_add_io(rs->event, &m->pidfd_source, m->proc.pidfd, EPOLLIN, on_pidfd, m);

	if (k < 0)
		return k;
	m->next = rs->monitors;
	rs->monitors = m;
	return 0;
}

/* The monitor may start: LINK_GO on its link (it waits for it before it touches anything). */
static void monitor_go(struct agent_res *r, struct agent_monitor *m)
{
	int k = agent_link_send(m->link_fd, LINK_GO);

	if (k < 0) {
		log_warning_errno(k, "Resource %s: failed to start monitor %d: %m",
				  r ? res_name(r) : "(removed)", (int) m->proc.pid);
		(void) monitor_signal(&m->proc, SIGKILL); /* its death is the resource's failure */
	}
}

static void on_scope_done(void *userdata, int error)
{
	struct agent_monitor *m = userdata;

	m->scope_req = NULL;
	/* agent-scope logs why; the monitor starts either way (in our cgroup, then). */
	(void) error;
	monitor_go(m->owner, m);
}

/* Into a scope of its own first, when systemd runs us; then it may start. */
static void monitor_place(struct agent_res *r, struct agent_monitor *m)
{
	struct agent_resource *mr = model_res(r);

	if (r->rs->scope && agent_scope_move(r->rs->scope, m->proc.pid, mr->name, mr->id,
					     on_scope_done, m, &m->scope_req) >= 0)
		return;
	monitor_go(r, m);
}

/* RES_ACT_START_MONITOR: a new channel and process; the old channel is closed. */
static int monitor_start(struct agent_res *r, uint32_t gen)
{
	struct agent_resources *rs = r->rs;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ struct agent_monitor *m = NULL;
	const char *env[3] = {};
	size_t n_env = 0;
	struct chan_fds fds;
	int sp[2], k;

	channel_close(r);
	r->mon = NULL; /* an old one stays watched until it is reaped */
	k = program_path(r, &path);
	if (k == -ENOENT)
		return log_error_errno(k, "Resource %s: no monitor program for type '%s' in %s.",
				       res_name(r), model_res(r)->type, rs->monitor_dir);
	if (k < 0)
		return log_error_errno(k, "Resource %s: %m", res_name(r));
	m = calloc(1, sizeof(*m));
	if (!m)
		return log_error_errno(-ENOMEM, "Resource %s: %m", res_name(r));
	*m = (struct agent_monitor){
		.rs = rs, .owner = r, .proc = MONITOR_PROC_NULL, .gen = gen, .link_fd = -EBADF};
	k = channel_open(r);
	if (k < 0)
		return log_error_errno(k, "Resource %s: failed to create a channel: %m",
				       res_name(r));
	m->channel_id = rs->channel_ids;
	/* The link: how the monitor learns that we are gone, and how it waits to start. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return log_error_errno(-errno, "Resource %s: failed to create a link: %m",
				       res_name(r));
	m->link_fd = sp[0];
	if (rs->reattach_env)
		env[n_env++] = rs->reattach_env;
	if (rs->orphan_env)
		env[n_env++] = rs->orphan_env;
	k = chan_agent_fds(r->chan, &fds); /* a new channel: its memfds are there */
	if (k >= 0)
		k = monitor_spawn(path, &fds, sp[1], env, &m->proc);
	safe_close(sp[1]);
	if (k == -ENOENT)
		return log_error_errno(k, "Resource %s: the monitor program %s does not exist.",
				       res_name(r), path);
	if (k < 0)
		return log_error_errno(k, "Resource %s: failed to start the monitor %s: %m",
				       res_name(r), path);
	/* The monitor has its copies; the mappings stay.  2 fds fewer per resource. */
	(void) chan_agent_release_memfds(r->chan);
	/* A pid alone could be reused once it is gone: the next agent checks this too. */
	(void) proc_start_time(m->proc.pid, &m->pid_start);
	k = monitor_watch(rs, m);
	if (k < 0) {
		(void) monitor_signal(&m->proc, SIGKILL);
		(void) monitor_reap(&m->proc, NULL); /* may be too early: then a zombie remains */
		monitor_proc_done(&m->proc);
		return log_error_errno(k, "Resource %s: failed to watch the monitor: %m",
				       res_name(r));
	}
	log_info("Resource %s: started monitor %s, pid %d.", res_name(r), path, (int) m->proc.pid);
	r->mon = TAKE_PTR(m);
	monitor_place(r, r->mon);
	if (chan_agent_prepare_sleep(r->chan) == 1)
		drain_later(r);
	return 0;
}

/* ---- actions ---- */

/* The OPEN record: .name, .type, .id, then the private properties. */
static int open_record(const struct agent_res *r, uint8_t *buf, uint32_t *ret_len)
{
	const struct agent_resource *mr = model_res(r);
	size_t len = 0, n;
	char hex[2 * SHM_ID_SIZE + 1];
	int k;

	for (unsigned i = 0; i < SHM_ID_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", mr->id[i]);
	k = snprintf((char *) buf, CHAN_ARGS_MAX, ".name=%s%c.type=%s%c.id=%s", mr->name, 0,
		     mr->type, 0, hex);
	if (k < 0 || (size_t) k >= CHAN_ARGS_MAX)
		return -E2BIG;
	len = (size_t) k + 1;
	for (uint32_t i = 0; i < mr->props_len; i += (uint32_t) n) {
		const char *kv = mr->props + i;
		char key[64];
		struct res_props scratch;
		const char *eq = strchr(kv, '=');

		n = strlen(kv) + 1;
		if (eq && (size_t) (eq - kv) < sizeof(key)) {
			memcpy(key, kv, (size_t) (eq - kv));
			key[eq - kv] = '\0';
			res_props_init(&scratch);
			if (res_props_set(&scratch, key, 0) != -ENOENT)
				continue; /* a common property: not the monitor's business */
		}
		if (len + n > CHAN_ARGS_MAX)
			return -E2BIG;
		memcpy(buf + len, kv, n);
		len += n;
	}
	*ret_len = (uint32_t) len;
	return 0;
}

static void act_post(struct agent_res *r, const struct res_action *a)
{
	uint8_t args[CHAN_ARGS_MAX];
	uint32_t len = 0;
	uint64_t id = 0;
	int k = 0;

	if (!r->chan || !r->mon)
		return; /* the monitor did not start: its death is queued already */
	if (a->post.op == CHAN_OP_OPEN) {
		k = open_record(r, args, &len);
		if (k < 0)
			log_error_errno(k, "Resource %s: the OPEN record exceeds %u bytes.",
					res_name(r), CHAN_ARGS_MAX);
	} else if (a->post.op == CHAN_OP_OFFLINE && r->offline_params) {
		len = r->offline_params_len; /* checked against CHAN_ARGS_MAX when set */
		memcpy(args, r->offline_params, len);
		params_drop(r);
	}
	if (k >= 0)
		k = chan_agent_post(r->chan, 0, a->post.cls, a->post.op, a->post.deadline_ns,
				    len ? args : NULL, len, &id);
	if (k >= 0)
		k = res_fsm_bind(&r->fsm, a->post.cls, id);
	if (k < 0) {
		log_error_errno(k, "Resource %s: failed to post a command: %m", res_name(r));
		queue_event(r, &(struct res_event){.kind = RES_EV_MONITOR_HUNG,
						   .monitor_gen = r->mon->gen});
	}
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct res_timer_ctx *t = userdata;
	struct agent_res *r = t->r;
	struct agent_resources *rs = r->rs;

	(void) s, (void) usec;
	if (rs->stopping)
		return 0;
	if ((t->which == RES_TIMER_RESTART || t->which == RES_TIMER_RETRY) &&
	    rs->hooks.may_restart && !rs->hooks.may_restart(rs->hooks.userdata, r->index)) {
		log_info("Resource %s: its %s waits for its providers or its group.", res_name(r),
			 t->which == RES_TIMER_RESTART ? "restart" : "retry");
		r->held[t->which == RES_TIMER_RETRY] = true;
		return 0;
	}
	res_run(r, &(struct res_event){.kind = RES_EV_TIMER, .timer = t->which});
	return 0;
}

void act_set_timer(struct agent_res *r, enum res_timer which, uint64_t at_ns)
{
	struct res_timer_ctx *t = &r->timers[which];
	uint64_t usec = (at_ns + 999) / 1000; /* never before the state machine's time */
	int k;

	if (!t->source)
		k = sd_event_add_time(r->rs->event, &t->source, CLOCK_MONOTONIC, usec,
				      TIMER_ACCURACY_USEC, on_timer, t);
	else {
		k = sd_event_source_set_time(t->source, usec);
		if (k >= 0)
			k = sd_event_source_set_enabled(t->source, SD_EVENT_ONESHOT);
	}
	if (k < 0)
		log_error_errno(k, "Resource %s: failed to arm the %s timer: %m", res_name(r),
				res_timer_to_string(which));
}

static void act_cancel_timer(struct agent_res *r, enum res_timer which)
{
	if (r->timers[which].source)
		(void) sd_event_source_set_enabled(r->timers[which].source, SD_EVENT_OFF);
}

/* Who r is in its journal records (log.h); id holds the hex form of its id. */
static struct log_resource res_log(const struct agent_res *r, char id[SHM_ID_SIZE * 2 + 1])
{
	const struct agent_resource *mr = model_res(r);

	agent_model_id_hex(mr->id, id);
	return (struct log_resource){mr->name, id, r->rs->model->groups[mr->group].name};
}

/* The state change a PUBLISH shows: a failure with a known cause as a warning with it. */
static void log_publish(const struct agent_res *r, const struct res_action *a)
{
	bool failed = a->publish.state == HAGENT_RESOURCE_FAILED;
	int error = failed && r->fsm.last_error < 0 ? r->fsm.last_error : 0;
	char id[SHM_ID_SIZE * 2 + 1];
	struct log_resource lr = res_log(r, id);

	(void) log_resource_state(error ? LOG_WARNING : LOG_INFO, error, failed, &lr,
				  res_state_to_string(a->publish.from),
				  res_state_to_string(a->publish.state));
}

static void act_policy(struct agent_res *r, const struct res_action *a)
{
	char id[SHM_ID_SIZE * 2 + 1];
	struct log_resource lr = res_log(r, id);

	log_restart_policy(LOG_NOTICE, &lr, a->policy.count,
			   restart_verdict_to_string(a->policy.verdict));
	if (a->policy.verdict == RESTART_ESCALATE)
		r->escalated = true; /* the group layer hears of it after the step */
}

static void act_execute(struct agent_res *r, const struct res_action *a)
{
	switch (a->kind) {
	case RES_ACT_POST:
		act_post(r, a);
		break;
	case RES_ACT_SET_TIMER:
		act_set_timer(r, a->timer.which, a->timer.at_ns);
		break;
	case RES_ACT_CANCEL_TIMER:
		act_cancel_timer(r, a->timer.which);
		break;
	case RES_ACT_START_MONITOR:
		r->spawn_error = monitor_start(r, a->monitor_gen);
		if (r->spawn_error < 0)
			queue_event(r, &(struct res_event){.kind = RES_EV_MONITOR_DIED,
							   .monitor_gen = a->monitor_gen});
		break;
	case RES_ACT_KILL_MONITOR:
		if (r->mon && r->mon->gen == a->monitor_gen) {
			log_warning("Resource %s: killing monitor %d.", res_name(r),
				    (int) r->mon->proc.pid);
			(void) monitor_signal(&r->mon->proc, SIGKILL);
		}
		break;
	case RES_ACT_PUBLISH:
		model_res(r)->state_change_ns = real_ns();
		log_publish(r, a);
		if (r->n_published < ELEMENTSOF(r->published)) {
			r->published[r->n_published].state = a->publish.state;
			r->published[r->n_published].seq = a->publish.seq;
			r->n_published++;
		}
		r->dirty = true;
		break;
	case RES_ACT_REFRESH:
		r->dirty = true;
		break;
	case RES_ACT_POLICY:
		act_policy(r, a);
		break;
	case RES_ACT_REPLY:
		if (a->reply.deferred) {
			r->deferred = true;
			r->deferred_error = a->reply.error;
			r->deferred_win32 = a->reply.win32;
			break;
		}
		r->replied = true;
		r->reply_error = a->reply.error;
		r->reply_win32 = a->reply.win32;
		break;
	case RES_ACT_REMOVED:
		r->removed = true;
		break;
	default:
		break;
	}
}

/* ---- publishing ---- */

/* Copies the state machine's view into the model; true if anything changed. */
static bool model_sync(struct agent_res *r, uint64_t now)
{
	struct agent_resource *mr = model_res(r);
	const struct res_fsm *f = &r->fsm;
	struct agent_resource old = *mr;
	bool shown = !f->quiet; /* a quiet request's operation is not shown yet */

	mr->state = res_fsm_visible(f);
	mr->state_seq = f->state_seq;
	mr->checkpoint = shown && f->has_checkpoint ? f->checkpoint : 0;
	mr->wait_hint_ms = shown && f->has_checkpoint ? f->wait_hint_ms : 0;
	mr->pending_deadline_ns =
		res_state_is_pending(mr->state) ? f->timer_at[RES_TIMER_PENDING] : 0;
	mr->monitor_pid = r->mon ? (int32_t) r->mon->proc.pid : 0;
	mr->restart_count = restart_policy_count(&f->restart, &f->props, now);
	mr->last_error = f->last_error;
	if (f->state == HAGENT_RESOURCE_FAILED && f->fail_cause == RES_FAIL_MONITOR &&
	    r->spawn_error < 0)
		mr->last_error = r->spawn_error;
	mr->locked = res_fsm_is_locked(f);
	return old.state != mr->state || old.state_seq != mr->state_seq ||
	       old.checkpoint != mr->checkpoint || old.wait_hint_ms != mr->wait_hint_ms ||
	       old.pending_deadline_ns != mr->pending_deadline_ns ||
	       old.monitor_pid != mr->monitor_pid || old.restart_count != mr->restart_count ||
	       old.last_error != mr->last_error || old.locked != mr->locked;
}

/* Group gi's state and sequence, for the next agent (its readers' sequences go on). */
void group_store_sync(struct agent_resources *rs, size_t gi)
{
	const struct agent_group *g = &rs->model->groups[gi];
	struct volatile_entry e = {.kind = VOLATILE_GROUP};

	if (!rs->store)
		return;
	e.group_state = g->state;
	e.group_seq = g->state_seq;
	memcpy(e.id, g->id, sizeof(e.id));
	volatile_store_put(rs->store, rs->model->max_resources + gi, &e);
}

/*
 * Inside the open transaction: the record of group gi again if its derived
 * state changed (with a GROUP_STATE event), or if change is not 0 (with that
 * event), or if force.
 */
static int group_update(struct agent_resources *rs, size_t gi, uint32_t change, bool force)
{
	struct agent_model *model = rs->model;
	struct agent_group *g = &model->groups[gi];
	int32_t gstate = agent_group_derive_state(model, g);
	int k = 0;

	if (gstate != g->state) {
		char id[SHM_ID_SIZE * 2 + 1];

		agent_model_id_hex(g->id, id);
		log_group_state(LOG_INFO, g->name, id, hagent_group_state_to_string(g->state),
				hagent_group_state_to_string(gstate));
		g->state = gstate;
		g->state_seq++;
		g->state_change_ns = real_ns();
		group_store_sync(rs, gi);
		k = agent_publish_group(rs->writer, model, gi, AGENT_CHANGE_GROUP_STATE);
		if (k >= 0 && change)
			k = agent_publish_event(rs->writer, change, g->slot, SHM_KIND_GROUP,
						g->state_seq, g->state, g->id, g->name);
	} else if (change || force)
		k = agent_publish_group(rs->writer, model, gi, change);
	return k;
}

void agent_resources_group_changed(struct agent_resources *rs, size_t gi, uint32_t change,
				   bool force)
{
	struct grp_due *d = &rs->grp_due[gi];

	assert(rs->txn_depth > 0 && gi < rs->model->n_groups);
	if (change)
		d->change = change;
	d->force = d->force || force;
	if (d->queued)
		return;
	d->queued = true;
	rs->grp_queue[rs->n_grp_queue++] = gi; /* at most once each: max_groups entries */
}

void agent_resources_begin(struct agent_resources *rs)
{
	int k;

	if (rs->txn_depth++ > 0)
		return;
	k = shm_writer_begin(rs->writer, NULL);
	rs->txn_open = k >= 0;
	if (k < 0)
		log_error_errno(k, "Failed to begin a segment transaction: %m");
}

/*
 * Before the commit: every group marked in this transaction is reconciled by
 * the group layer (which may act on members, marking groups again), and once
 * it is settled its record is written.  So readers see the members' states,
 * the group's derived state and whatever the group layer did about them in
 * one commit: a group that moves from one member to the next never shows
 * the state in between.
 */
static void groups_settle(struct agent_resources *rs)
{
	unsigned rounds = 0;

	while (rs->n_grp_queue > 0) {
		size_t gi = rs->grp_queue[--rs->n_grp_queue];
		struct grp_due *d = &rs->grp_due[gi];
		int k;

		d->queued = false;
		if (!rs->model->groups[gi].used) {
			*d = (struct grp_due){};
			continue;
		}
		if (rs->hooks.reconcile && !rs->stopping) {
			if (++rounds == SETTLE_ROUNDS_MAX)
				log_error("Group %s: the group layer does not settle; stopped "
					  "acting.",
					  rs->model->groups[gi].name);
			if (rounds < SETTLE_ROUNDS_MAX) {
				rs->hooks.reconcile(rs->hooks.userdata, gi);
				if (d->queued)
					continue; /* changed again: written once it has settled */
			}
		}
		k = rs->txn_open ? group_update(rs, gi, d->change, d->force) : 0;
		if (k < 0)
			log_error_errno(k, "Group %s: failed to publish it: %m",
					rs->model->groups[gi].name);
		*d = (struct grp_due){};
	}
}

void agent_resources_end(struct agent_resources *rs)
{
	size_t n;
	int k;

	assert(rs->txn_depth > 0);
	if (rs->txn_depth == 1)
		groups_settle(rs);
	if (--rs->txn_depth > 0)
		return;
	if (rs->txn_open) {
		/* Committed even after an error: the writer has no rollback. */
		k = shm_writer_commit(rs->writer);
		if (k < 0)
			log_error_errno(k, "Failed to commit a segment transaction: %m");
		rs->txn_open = false;
	}
	status_due(rs);
	/* Replies after the segment shows what they answer; a reply handler may start more. */
	n = rs->n_replies;
	rs->n_replies = 0;
	for (size_t j = 0; j < n && rs->reply_fn; j++)
		rs->reply_fn(rs->reply_userdata, rs->replies[j].index, rs->replies[j].error,
			     rs->replies[j].win32);
}

/* Inside the open transaction: resource r's record, its state events, its group due. */
static int publish_resource(struct agent_res *r, uint32_t change)
{
	struct agent_resources *rs = r->rs;
	struct agent_model *model = rs->model;
	struct agent_resource *mr = model_res(r);
	int k = 0;

	if (rs->txn_open)
		k = agent_publish_resource(rs->writer, model, r->index, change);
	for (size_t i = 0; rs->txn_open && k >= 0 && i < r->n_published; i++)
		k = agent_publish_event(rs->writer, AGENT_CHANGE_RESOURCE_STATE, mr->slot,
					SHM_KIND_RESOURCE, r->published[i].seq,
					r->published[i].state, mr->id, mr->name);
	agent_resources_group_changed(rs, mr->group, 0, false);
	return k;
}

static void res_timers_free(struct agent_res *r)
{
	for (unsigned t = 0; t < _RES_TIMER_MAX; t++)
		r->timers[t].source = sd_event_source_disable_unref(r->timers[t].source);
	r->control_timer = sd_event_source_disable_unref(r->control_timer);
}

/*
 * RES_ACT_REMOVED: the resource is closed (or never opened).  Its record
 * becomes a tombstone with a RESOURCE_DELETED event, its group loses it, its
 * monitor is told to exit (and reaped as an orphan), its entry is freed.
 */
static void res_finish_removal(struct agent_res *r)
{
	struct agent_resources *rs = r->rs;
	size_t gi = model_res(r)->group;
	int k;

	log_info("Resource %s: removed.", res_name(r));
	if (rs->store)
		volatile_store_clear(rs->store, r->index);
	for (struct agent_monitor *m = rs->monitors; m; m = m->next)
		if (m->owner == r) {
			m->owner = NULL;
			k = monitor_signal(&m->proc, SIGTERM);
			if (k < 0 && k != -ESRCH)
				log_warning_errno(k, "Resource %s: failed to signal monitor %d: %m",
						  res_name(r), (int) m->proc.pid);
		}
	r->mon = NULL;
	channel_close(r);
	res_timers_free(r);
	params_drop(r);
	agent_resources_begin(rs);
	k = rs->txn_open ? agent_publish_resource_deleted(rs->writer, rs->model, r->index) : 0;
	agent_model_resource_remove(rs->model, r->index);
	agent_resources_group_changed(rs, gi, AGENT_CHANGE_GROUP_PROPERTY, false);
	if (k < 0)
		log_error_errno(k, "Failed to publish the removal of a resource: %m");
	*r = (struct agent_res){};
	agent_resources_end(rs);
}

struct res_reply {
	bool replied;
	int error;
	uint32_t win32;
};

/* The answer to an earlier quiet request, if this step produced it: sent after the commit. */
static void deferred_reply(struct agent_res *r)
{
	struct agent_resources *rs = r->rs;

	if (!r->deferred)
		return;
	r->deferred = false;
	if (rs->n_replies == rs->max_replies) {
		size_t n = rs->max_replies ? 2 * rs->max_replies : 16;
		struct deferred *p = reallocarray(rs->replies, n, sizeof(*p));

		if (!p) {
			log_error("Resource %s: out of memory; its deferred reply is lost.",
				  res_name(r));
			return;
		}
		rs->replies = p;
		rs->max_replies = n;
	}
	rs->replies[rs->n_replies++] =
		(struct deferred){r->index, r->deferred_error, r->deferred_win32};
}

/* One event, the actions it causes and the events those cause; one transaction. */
static void res_run_reply(struct agent_res *r, const struct res_event *ev, struct res_reply *reply,
			  bool publish)
{
	struct agent_resources *rs = r->rs;
	uint64_t now = res_mono_ns();
	int k;

	agent_resources_begin(rs);
	r->escalated = false;
	r->n_queue = 0;
	r->n_published = 0;
	r->dirty = r->removed = r->replied = r->deferred = false;
	queue_event(r, ev);
	for (size_t q = 0; q < r->n_queue; q++) {
		struct res_actions out;

		k = res_fsm_step(&r->fsm, &r->queue[q], now, &out);
		if (k < 0) {
			log_error_errno(k, "Resource %s: malformed event %s: %m", res_name(r),
					res_event_kind_to_string(r->queue[q].kind));
			continue;
		}
		if (out.verdict == RES_V_REJECTED)
			log_warning("Resource %s: the monitor's %s violates the protocol; ignored.",
				    res_name(r), res_event_kind_to_string(r->queue[q].kind));
		for (uint32_t i = 0; i < out.n; i++)
			act_execute(r, &out.a[i]);
	}
	r->n_queue = 0;
	if (reply)
		*reply = (struct res_reply){r->replied, r->reply_error, r->reply_win32};
	if (r->removed) {
		deferred_reply(r);
		res_finish_removal(r);
		agent_resources_end(rs);
		return;
	}
	if (r->fsm.state != HAGENT_RESOURCE_ONLINE)
		params_drop(r); /* they were for the offline of an Online resource */
	if (model_sync(r, now) || publish)
		r->dirty = true;
	if (r->dirty) {
		k = publish_resource(r, 0);
		if (k < 0)
			log_error_errno(k, "Resource %s: failed to publish its state: %m",
					res_name(r));
	}
	deferred_reply(r);
	res_store_sync(r);
	if (r->escalated && rs->hooks.escalate)
		rs->hooks.escalate(rs->hooks.userdata, r->index);
	agent_resources_end(rs);
}

void res_run(struct agent_res *r, const struct res_event *ev)
{
	res_run_reply(r, ev, NULL, false);
}

void res_republish(struct agent_res *r)
{
	struct agent_resources *rs = r->rs;
	int k;

	agent_resources_begin(rs);
	r->n_published = 0;
	(void) model_sync(r, res_mono_ns());
	k = publish_resource(r, 0);
	if (k < 0)
		log_error_errno(k, "Resource %s: failed to publish its state: %m", res_name(r));
	res_store_sync(r);
	agent_resources_end(rs);
}

void res_store_sync(struct agent_res *r)
{
	struct agent_resources *rs = r->rs;
	struct volatile_entry e;

	if (!rs->store)
		return;
	if (!r->active || !r->mon) {
		volatile_store_clear(rs->store, r->index);
		return;
	}
	memset(&e, 0, offsetof(struct volatile_entry, fsm));
	e.kind = VOLATILE_RESOURCE;
	memcpy(e.id, model_res(r)->id, sizeof(e.id));
	e.pid = (int32_t) r->mon->proc.pid;
	e.monitor_gen = r->mon->gen;
	e.pid_start = r->mon->pid_start;
	e.channel_id = r->mon->channel_id;
	e.fsm = r->fsm;
	volatile_store_put(rs->store, r->index, &e);
}

/* ---- the set ---- */

/* Entry i of rs for the model's resource i: a state machine with its properties. */
static int res_setup(struct agent_resources *rs, size_t i)
{
	struct agent_res *r = &rs->res[i];
	const char *key = NULL;
	int k;

	*r = (struct agent_res){.rs = rs, .index = i};
	for (unsigned t = 0; t < _RES_TIMER_MAX; t++)
		r->timers[t] = (struct res_timer_ctx){.r = r, .which = (enum res_timer) t};
	k = res_fsm_init(&r->fsm, &rs->model->resources[i].common, &key);
	if (k < 0)
		return log_error_errno(k, "Resource %s: invalid property %s: %m",
				       rs->model->resources[i].name, key ?: "?");
	if (rs->model->resources[i].persistent_state == CONFIG_TARGET_ONLINE) {
		struct res_actions out; /* none that matter: nothing runs yet */

		(void) res_fsm_step(&r->fsm,
				    &(struct res_event){.kind = RES_EV_SET_TARGET, .code = 1},
				    res_mono_ns(), &out);
	}
	r->active = true;
	return 0;
}

int agent_resources_new(sd_event *e, struct shm_writer *w, struct agent_model *m,
			const char *monitor_dir, struct agent_resources **ret)
{
	_cleanup_(agent_resources_freep) struct agent_resources *rs = NULL;

	assert(e && w && m && monitor_dir && ret);
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->event = sd_event_ref(e);
	rs->writer = w;
	rs->model = m;
	rs->monitor_dir = strdup(monitor_dir);
	rs->res = calloc(m->max_resources ?: 1, sizeof(*rs->res));
	rs->grp_due = calloc(m->max_groups ?: 1, sizeof(*rs->grp_due));
	rs->grp_queue = calloc(m->max_groups ?: 1, sizeof(*rs->grp_queue));
	if (!rs->monitor_dir || !rs->res || !rs->grp_due || !rs->grp_queue)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_resources; i++)
		if (m->resources[i].used) {
			int k = res_setup(rs, i);

			if (k < 0)
				return k;
		}
	*ret = TAKE_PTR(rs);
	return 0;
}

/* Starts up to n loaded resources (all if n is 0); true when none is left. */
static bool start_some(struct agent_resources *rs, size_t n)
{
	for (size_t done = 0; rs->start_next < rs->model->n_resources && (n == 0 || done < n);) {
		struct agent_res *r = &rs->res[rs->start_next++];

		if (!r->active)
			continue;
		if (r->restored) {
			/* Its monitor was adopted (it runs), or died while no agent ran. */
			if (!r->mon)
				agent_resources_restored_died(r);
			continue;
		}
		/* Online follows from the persistent state, when the group layer's turn comes. */
		res_run(r, &(struct res_event){.kind = RES_EV_START});
		done++;
	}
	return rs->start_next >= rs->model->n_resources;
}

static int on_start_batch(sd_event_source *s, void *userdata)
{
	struct agent_resources *rs = userdata;

	if (rs->stopping || start_some(rs, START_BATCH))
		return sd_event_source_set_enabled(s, SD_EVENT_OFF);
	return 0;
}

void agent_resources_start(struct agent_resources *rs)
{
	int k;

	rs->started = true;
	rs->start_next = 0;
	/* In batches, so that readers, the control API and the watchdog are served meanwhile. */
	k = sd_event_add_defer(rs->event, &rs->start_source, on_start_batch, rs);
	if (k >= 0) /* a defer source is one-shot unless told otherwise */
		k = sd_event_source_set_enabled(rs->start_source, SD_EVENT_ON);
	if (k < 0) {
		log_warning_errno(k, "Failed to start the resources in batches, starting all: %m");
		(void) start_some(rs, 0);
	}
}

int agent_resources_add(struct agent_resources *rs, size_t i)
{
	struct agent_res *r;
	int k;

	assert(i < rs->model->n_resources && rs->model->resources[i].used && !rs->res[i].active);
	k = res_setup(rs, i);
	if (k < 0)
		return k;
	r = &rs->res[i];
	agent_resources_begin(rs);
	k = rs->txn_open
		    ? agent_publish_resource(rs->writer, rs->model, i, AGENT_CHANGE_RESOURCE_ADDED)
		    : 0;
	agent_resources_group_changed(rs, model_res(r)->group, AGENT_CHANGE_GROUP_PROPERTY, false);
	if (k < 0)
		log_error_errno(k, "Resource %s: failed to publish it: %m", res_name(r));
	if (rs->started && !rs->stopping)
		res_run(r, &(struct res_event){.kind = RES_EV_START});
	agent_resources_end(rs);
	return 0;
}

int agent_resources_request(struct agent_resources *rs, size_t i, enum res_event_kind kind,
			    bool quiet, int *ret_error, uint32_t *ret_win32)
{
	struct res_reply reply = {};
	struct agent_res *r = &rs->res[i];

	assert(i < rs->model->n_resources && r->active);
	assert(kind == RES_EV_REQ_ONLINE || kind == RES_EV_REQ_OFFLINE ||
	       kind == RES_EV_REQ_TERMINATE || kind == RES_EV_REQ_DELETE);
	if (rs->stopping)
		return -ESHUTDOWN;
	/* Published even if the state machine changed nothing: the persistent state may have. */
	res_run_reply(r, &(struct res_event){.kind = kind, .quiet = quiet}, &reply, true);
	if (!reply.replied)
		return r->active && r->fsm.reply_deferred ? 1 : -EIO; /* else a state machine bug */
	*ret_error = reply.error;
	*ret_win32 = reply.win32;
	return 0;
}

int agent_resources_system(struct agent_resources *rs, size_t i, enum res_event_kind kind)
{
	struct res_reply reply = {};
	struct agent_res *r = &rs->res[i];

	assert(i < rs->model->n_resources && r->active);
	assert(kind == RES_EV_REQ_OFFLINE || kind == RES_EV_REQ_TERMINATE);
	if (rs->stopping)
		return -ESHUTDOWN;
	res_run_reply(r, &(struct res_event){.kind = kind, .system = true}, &reply, false);
	if (!reply.replied)
		return -EIO;
	return reply.error == -EINPROGRESS ? 0 : reply.error;
}

int agent_resources_set_target(struct agent_resources *rs, size_t i, bool online)
{
	struct agent_res *r = &rs->res[i];

	assert(i < rs->model->n_resources && r->active);
	if (rs->stopping)
		return -ESHUTDOWN;
	if (!online)
		r->held[0] = r->held[1] = false; /* the state machine dropped them */
	/* Published: the record shows the persistent state. */
	res_run_reply(r, &(struct res_event){.kind = RES_EV_SET_TARGET, .code = online}, NULL,
		      true);
	return 0;
}

bool agent_resources_held(const struct agent_resources *rs, size_t i)
{
	const struct agent_res *r = &rs->res[i];

	return r->active && (r->held[0] || r->held[1]);
}

int agent_resources_release(struct agent_resources *rs, size_t i)
{
	struct agent_res *r = &rs->res[i];

	assert(i < rs->model->n_resources && r->active);
	if (rs->stopping)
		return -ESHUTDOWN;
	for (unsigned h = 0; h < 2; h++) {
		if (!r->held[h])
			continue;
		r->held[h] = false;
		log_info("Resource %s: its held %s runs now.", res_name(r),
			 h ? "retry" : "restart");
		res_run(r, &(struct res_event){.kind = RES_EV_TIMER,
					       .timer = h ? RES_TIMER_RETRY : RES_TIMER_RESTART});
		if (!r->active)
			break;
	}
	return 0;
}

int agent_resources_set_offline_params(struct agent_resources *rs, size_t i, const void *params,
				       size_t len)
{
	struct agent_res *r = &rs->res[i];
	uint8_t *p;

	assert(i < rs->model->n_resources && r->active);
	if (len > CHAN_ARGS_MAX)
		return -E2BIG;
	params_drop(r);
	if (len == 0)
		return 0; /* none: the next OFFLINE carries no bytes */
	p = malloc(len);
	if (!p)
		return -ENOMEM;
	memcpy(p, params, len);
	r->offline_params = p;
	r->offline_params_len = (uint32_t) len;
	return 0;
}

const struct res_fsm *agent_resources_fsm(const struct agent_resources *rs, size_t i)
{
	const struct agent_res *r = &rs->res[i];

	return i < rs->model->n_resources && r->active ? &r->fsm : NULL;
}

void agent_resources_set_group_hooks(struct agent_resources *rs, const struct agent_group_hooks *h)
{
	rs->hooks = *h;
}

void agent_resources_set_reply_handler(struct agent_resources *rs, agent_reply_fn fn,
				       void *userdata)
{
	rs->reply_fn = fn;
	rs->reply_userdata = userdata;
}

int agent_resources_props_changed(struct agent_resources *rs, size_t i, const char **ret_key)
{
	struct agent_res *r = &rs->res[i];
	int k;

	assert(i < rs->model->n_resources && r->active);
	k = res_fsm_set_props(&r->fsm, &model_res(r)->common, ret_key);
	if (k < 0)
		return k;
	agent_resources_republish(rs, i, AGENT_CHANGE_RESOURCE_PROPERTY);
	return 0;
}

void agent_resources_republish(struct agent_resources *rs, size_t i, uint32_t change)
{
	struct agent_res *r = &rs->res[i];
	int k;

	assert(i < rs->model->n_resources && r->active);
	agent_resources_begin(rs);
	r->n_published = 0;
	k = publish_resource(r, change);
	agent_resources_end(rs);
	if (k < 0)
		log_error_errno(k, "Resource %s: failed to publish it: %m", res_name(r));
}

static int on_control_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct agent_res *r = userdata;

	(void) s, (void) usec;
	log_warning("Resource %s: no answer to a control code within DeadlockTimeout.",
		    res_name(r));
	control_finish(r, -ETIMEDOUT, NULL, 0);
	return 0;
}

int agent_resources_control(struct agent_resources *rs, size_t i, uint32_t code, const void *in,
			    size_t len)
{
	struct agent_res *r = &rs->res[i];
	uint8_t args[CHAN_ARGS_MAX];
	uint64_t deadline = res_after_ms(res_mono_ns(), r->fsm.props.deadlock_timeout_ms), id;
	int k;

	assert(i < rs->model->n_resources && r->active);
	if (rs->stopping)
		return -ESHUTDOWN;
	if (len > CHAN_ARGS_MAX - sizeof(code))
		return -E2BIG;
	if (!r->chan || !r->mon || !r->fsm.opened || r->fsm.deleting)
		return -ENOTCONN;
	if (r->control_id != 0)
		return -EBUSY;
	memcpy(args, &code, sizeof(code));
	if (len > 0)
		memcpy(args + sizeof(code), in, len);
	k = chan_agent_post(r->chan, 0, CHAN_CLASS_CONTROL, CHAN_OP_CONTROL, deadline, args,
			    (uint32_t) (sizeof(code) + len), &id);
	if (k < 0)
		return k;
	if (!r->control_timer)
		k = sd_event_add_time(rs->event, &r->control_timer, CLOCK_MONOTONIC,
				      (deadline + 999) / 1000, TIMER_ACCURACY_USEC,
				      on_control_timeout, r);
	else {
		k = sd_event_source_set_time(r->control_timer, (deadline + 999) / 1000);
		if (k >= 0)
			k = sd_event_source_set_enabled(r->control_timer, SD_EVENT_ONESHOT);
	}
	if (k < 0)
		return k; /* the command runs, but nobody would answer the caller */
	r->control_id = id;
	return 0;
}

void agent_resources_set_control_handler(struct agent_resources *rs, agent_control_fn fn,
					 void *userdata)
{
	rs->control_fn = fn;
	rs->control_userdata = userdata;
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct agent_resources *rs = userdata;
	unsigned n = 0;

	(void) s, (void) usec;
	/* A monitor stuck in an entry point would never exit: a stop leaves nothing running. */
	for (struct agent_monitor *m = rs->monitors; m; m = m->next, n++)
		(void) monitor_signal(&m->proc, SIGKILL);
	log_warning("%u monitors did not exit in time; killed them.", n);
	store_drop(rs);
	return sd_event_exit(rs->event, 0);
}

int agent_resources_stop(struct agent_resources *rs, uint64_t timeout_usec)
{
	uint64_t now;
	int k;

	if (rs->stopping)
		return 0;
	rs->stopping = true;
	for (size_t i = 0; i < rs->model->n_resources; i++) {
		struct agent_res *r = &rs->res[i];

		if (!r->active)
			continue;
		channel_close(r);
		for (unsigned t = 0; t < _RES_TIMER_MAX; t++)
			act_cancel_timer(r, (enum res_timer) t);
	}
	for (struct agent_monitor *m = rs->monitors; m; m = m->next) {
		k = monitor_signal(&m->proc, SIGTERM);
		if (k < 0 && k != -ESRCH)
			log_warning_errno(k, "Resource %s: failed to signal monitor %d: %m",
					  m->owner ? res_name(m->owner) : "(removed)",
					  (int) m->proc.pid);
	}
	if (!rs->monitors) {
		store_drop(rs);
		return sd_event_exit(rs->event, 0);
	}
	log_info("Waiting for the monitors to exit.");
	k = sd_event_now(rs->event, CLOCK_MONOTONIC, &now);
	if (k >= 0)
		k = sd_event_add_time(rs->event, &rs->stop_timer, CLOCK_MONOTONIC,
				      now + timeout_usec, TIMER_ACCURACY_USEC, on_stop_timeout, rs);
	if (k < 0)
		return sd_event_exit(rs->event, 0);
	return 0;
}

struct agent_resources *agent_resources_free(struct agent_resources *rs)
{
	if (!rs)
		return NULL;
	while (rs->monitors) {
		struct agent_monitor *m = rs->monitors;

		rs->monitors = m->next;
		monitor_free(m);
	}
	for (size_t i = 0; rs->res && i < rs->model->n_resources; i++) {
		if (!rs->res[i].active)
			continue;
		channel_close(&rs->res[i]);
		res_timers_free(&rs->res[i]);
		params_drop(&rs->res[i]);
	}
	rs->adopt_timer = sd_event_source_disable_unref(rs->adopt_timer);
	rs->status_timer = sd_event_source_disable_unref(rs->status_timer);
	volatile_store_free(rs->store);
	free(rs->reattach_env);
	free(rs->orphan_env);
	free(rs->grp_due);
	free(rs->grp_queue);
	free(rs->replies);
	rs->stop_timer = sd_event_source_disable_unref(rs->stop_timer);
	rs->start_source = sd_event_source_disable_unref(rs->start_source);
	free(rs->res);
	free(rs->monitor_dir);
	sd_event_unref(rs->event);
	free(rs);
	return NULL;
}
