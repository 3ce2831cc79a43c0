/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor_spawn() and friends (agent/monitor-spawn.h): the real hamon-test
 * program (HAMON_TEST_BIN) started as hagentd starts it must attach to the
 * channel and answer; what the child inherits (fds, signal mask and
 * dispositions, session, environment) is checked on the running monitor
 * through /proc and kcmp, and exactly at exec time by re-executing this
 * test binary as a probe (MONITOR_SPAWN_PROBE=<file>: it writes what it got
 * and exits).  Cases that spawn run twice: clone(CLONE_VM | CLONE_VFORK |
 * CLONE_PIDFD), then the fallback without CLONE_PIDFD (pidfd_open()).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "monitor-spawn-internal.h"
#include "channel-link.h"
#include "monitor-spawn.h"
#include "test-util.h"
#include "time-util.h"

#define WAIT_MS	   10000 /* for what must happen: generous, sanitizers are slow */
#define ST_ONLINE  2
#define ST_OFFLINE 3
#define PROBE_ENV  "MONITOR_SPAWN_PROBE"
#define MAX_FDS	   64

static const char *bin;
static char self_exe[4096];

static struct {
	struct chan_agent *a;
	struct monitor_proc p;
	sigset_t saved_mask;
	char dir[64];
} T;

/*
 * Check skips the teardown of a failed test (the forked test _exit()s at the
 * assertion), and a monitor in its own session would outlive us, holding
 * our stdout.  So every spawned pid goes into shared memory, main() is a
 * child subreaper (orphaned monitors become its children) and kills and
 * reaps whatever is left after the run.
 */
#define MAX_SPAWNED 1024
struct spawned {
	uint32_t n;
	pid_t pid[MAX_SPAWNED];
};
static struct spawned *spawned;

static void kill_leftovers(void)
{
	for (uint32_t i = 0; i < spawned->n && i < MAX_SPAWNED; i++) {
		pid_t pid = spawned->pid[i];
		siginfo_t si;

		/* Still our child (reparented to us, alive or a zombie): so not a reused pid. */
		if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
			continue;
		fprintf(stderr, "killing leftover monitor %d\n", (int) pid);
		(void) kill(pid, SIGKILL);
		(void) waitpid(pid, NULL, 0);
	}
}

static void setup(void)
{
	T.p = MONITOR_PROC_NULL;
	ck_assert_int_eq(chan_agent_new(1, 7, &T.a), 0);
	ck_assert_int_eq(sigprocmask(SIG_SETMASK, NULL, &T.saved_mask), 0);
	snprintf(T.dir, sizeof(T.dir), "/tmp/test-monitor-spawn.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(T.dir));
}

/* Kills and reaps whatever is left, whatever the test did. */
static void kill_and_reap(struct monitor_proc *p)
{
	siginfo_t si;

	if (p->pidfd < 0)
		return;
	if (!p->reaped) {
		(void) monitor_signal(p, SIGKILL);
		(void) waitid(P_PIDFD, (id_t) p->pidfd, &si, WEXITED);
	}
	monitor_proc_done(p);
}

static void teardown(void)
{
	char path[128];

	kill_and_reap(&T.p);
	T.a = chan_agent_free(T.a);
	(void) sigprocmask(SIG_SETMASK, &T.saved_mask, NULL);
	for (const char *const *f = (const char *const[]){"probe", "noexec", NULL}; *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", T.dir, *f);
		(void) unlink(path);
	}
	(void) rmdir(T.dir);
}

static void block_signals(void)
{
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGCHLD);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &ss, NULL), 0);
}

static int spawn_used(const char *program, const struct chan_fds *fds, const char *const *env,
		      bool clone_pidfd, size_t *ret_stack_used)
{
	int r = monitor_spawn_full(program, fds, env, clone_pidfd, ret_stack_used, &T.p);

	if (r == 0 && spawned->n < MAX_SPAWNED)
		spawned->pid[spawned->n++] = T.p.pid;
	return r;
}

static int spawn(const char *program, const struct chan_fds *fds, const char *const *env,
		 bool clone_pidfd)
{
	return spawn_used(program, fds, env, clone_pidfd, NULL);
}

/* ---- the agent end of the channel ---- */

/* Waits up to WAIT_MS for the DONE of cmd_id; returns it. */
static struct chan_status_body wait_done(uint64_t cmd_id)
{
	struct pollfd pfd = {.fd = chan_agent_bell_fd(T.a), .events = POLLIN};
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	struct chan_status_body b[64];

	for (;;) {
		size_t n;
		int r;

		if (chan_agent_prepare_sleep(T.a) == 0)
			(void) poll(&pfd, 1, 50);
		chan_agent_woken(T.a);
		do {
			r = chan_agent_drain(T.a, b, ELEMENTSOF(b), &n);
			ck_assert_int_ge(r, 0);
			for (size_t i = 0; i < n; i++)
				if (b[i].type == CHAN_ST_DONE && b[i].cmd_id == cmd_id)
					return b[i];
		} while (r == 1);
		ck_assert_msg(now_ns(CLOCK_MONOTONIC) - t0 < WAIT_MS * NSEC_PER_MSEC,
			      "no DONE for command %" PRIu64, cmd_id);
	}
}

static uint64_t post(enum chan_op op, const void *args, uint32_t len)
{
	uint64_t id = 0;

	ck_assert_int_eq(chan_agent_post(T.a, 0, CHAN_CLASS_TRANSITION, op,
					 now_ns(CLOCK_MONOTONIC) + 60 * NSEC_PER_SEC, args, len,
					 &id),
			 0);
	return id;
}

/* OPEN (as in test-hamon-test.c) then ONLINE: the monitor attached and answers. */
static void open_online(void)
{
	static const char rec[] = ".name=r1\0.type=test\0.id=0123456789abcdef0123456789abcdef";
	struct chan_status_body d;

	d = wait_done(post(CHAN_OP_OPEN, rec, sizeof(rec)));
	ck_assert_int_eq(d.code, 0);
	ck_assert_int_eq(d.state, ST_OFFLINE);
	d = wait_done(post(CHAN_OP_ONLINE, NULL, 0));
	ck_assert_int_eq(d.code, 0);
	ck_assert_int_eq(d.state, ST_ONLINE);
}

/* ---- looking at a process ---- */

/* The channel's fds in protocol order: producer, agent, mon_bell, agent_bell. */
static int chan_fd(const struct chan_fds *f, int i)
{
	const int fds[4] = {f->producer, f->agent, f->mon_bell, f->agent_bell};

	return fds[i];
}

/* The open fds of /proc/<pid>/fd ("self" for us), sorted; returns how many. */
static size_t list_fds(const char *pid, int *fds, size_t max)
{
	char path[64];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (strcmp(pid, "self") == 0 && fd == dirfd(d))
			continue;
		ck_assert_uint_lt(n, max);
		fds[n++] = fd;
	}
	closedir(d);
	for (size_t i = 1; i < n; i++) /* insertion sort: few */
		for (size_t j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];

			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	return n;
}

static size_t count_own_fds(void)
{
	int fds[1024];

	return list_fds("self", fds, ELEMENTSOF(fds));
}

/* Is our fd the same open file as the child's fd?  No if the child closed it meanwhile. */
static bool same_file(pid_t pid, int ours, int theirs)
{
	long r = syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, ours, theirs);

	if (r < 0 && errno == EBADF)
		return false; /* libhamon's threads open and close fds of their own */
	ck_assert_msg(r >= 0, "kcmp: %s", strerror(errno));
	return r == 0;
}

/*
 * The running monitor: 0-6 open, 3-6 the channel's fds in protocol order,
 * and none of its fds is the leak marker (its own fds above 6 are libhamon's).
 */
static void check_monitor_fds(pid_t pid, const struct chan_fds *f, int marker)
{
	int want[4] = {f->producer, f->agent, f->mon_bell, f->agent_bell}, fds[MAX_FDS];
	char spid[16];
	size_t n;

	snprintf(spid, sizeof(spid), "%d", (int) pid);
	n = list_fds(spid, fds, MAX_FDS);
	ck_assert_uint_ge(n, 7);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(fds[i], i);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(same_file(pid, want[i], 3 + i), "fd %d is not channel fd %d", 3 + i,
			      i);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(!same_file(pid, marker, fds[i]), "marker leaked as fd %d", fds[i]);
}

/* A field of /proc/<pid>/status, as hex (SigBlk, SigIgn, ...). */
static uint64_t status_hex(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	uint64_t v = UINT64_MAX;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtoull(line + kl + 1, NULL, 16);
	fclose(f);
	ck_assert_msg(v != UINT64_MAX, "no %s", key);
	return v;
}

#define SIGBIT(s) (UINT64_C(1) << ((s) -1))

/* No child of ours at all, not even a zombie. */
static void expect_no_children(void)
{
	siginfo_t si;

	ck_assert_int_eq(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT), -1);
	ck_assert_int_eq(errno, ECHILD);
}

/* The pidfd turns readable within WAIT_MS; then the wait status. */
static int wait_death(struct monitor_proc *p)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
	int status = 0;

	ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
	ck_assert(pfd.revents & POLLIN);
	ck_assert_int_eq(monitor_reap(p, &status), 0);
	ck_assert_int_eq(monitor_reap(p, NULL), -ECHILD);
	return status;
}

static void expect_killed(struct monitor_proc *p)
{
	int status;

	ck_assert_int_eq(monitor_signal(p, SIGKILL), 0);
	status = wait_death(p);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "wait status 0x%x",
		      status);
}

/* ---- cases ---- */

/*
 * hamon-test spawned while we block SIGTERM and SIGCHLD and hold a
 * non-CLOEXEC fd: it answers OPEN and ONLINE, has our channel at 3-6 and
 * not the marker, its own session, no signal blocked but the two libhamon
 * blocks itself (SIGINT, SIGTERM: it reads them from a signalfd); death by
 * monitor_signal() makes the pidfd readable and monitor_reap() says so.
 */
START_TEST(test_hamon_test)
{
	_cleanup_close_ int marker = memfd_create("spawn-leak-marker", 0);
	struct chan_fds f;
	uint64_t blk;

	ck_assert_int_ge(marker, 0);
	block_signals();
	chan_agent_fds(T.a, &f);
	ck_assert_int_eq(spawn(bin, &f, NULL, _i == 0), 0);
	ck_assert_int_gt(T.p.pid, 0);
	ck_assert_int_ge(T.p.pidfd, 0);
	ck_assert_int_eq(fcntl(T.p.pidfd, F_GETFD), FD_CLOEXEC);
	ck_assert_int_eq(monitor_reap(&T.p, NULL), -EAGAIN);

	open_online();
	ck_assert_int_eq(getsid(T.p.pid), T.p.pid);
	check_monitor_fds(T.p.pid, &f, marker);
	blk = status_hex(T.p.pid, "SigBlk");
	ck_assert_msg((blk & ~(SIGBIT(SIGINT) | SIGBIT(SIGTERM))) == 0, "SigBlk %" PRIx64, blk);
	ck_assert_uint_eq(status_hex(T.p.pid, "SigIgn"), 0);

	ck_assert_int_eq(monitor_reap(&T.p, NULL), -EAGAIN);
	expect_killed(&T.p);
	monitor_proc_done(&T.p);
	ck_assert_int_eq(T.p.pidfd, -EBADF);
	expect_no_children();
}
END_TEST

/*
 * The probe's report, as test_probe expects it.  No ck_assert() here: the
 * probe is not a Check test, and the fd list comes before any fopen().
 */
static void probe_report(const char *out_path)
{
	extern char **environ;
	char line[256], path[64];
	int fds[MAX_FDS], n = 0, n_override = 0, cloexec[4], pdeathsig = -1;
	struct dirent *de;
	FILE *st, *out;
	DIR *d;

	for (int fd = 3; fd <= 6; fd++)
		cloexec[fd - 3] = fcntl(fd, F_GETFD);
	(void) prctl(PR_GET_PDEATHSIG, &pdeathsig);
	d = opendir("/proc/self/fd");
	if (!d)
		_exit(2);
	while ((de = readdir(d)) && n < MAX_FDS)
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			fds[n++] = atoi(de->d_name);
	closedir(d);
	for (char **e = environ; *e; e++)
		n_override += strncmp(*e, "SPAWN_OVERRIDE=", 15) == 0;

	out = fopen(out_path, "we");
	if (!out)
		_exit(3);
	fprintf(out, "fds");
	for (int k = 0; k <= 1024; k++) /* readdir order is not numeric */
		for (int i = 0; i < n; i++)
			if (fds[i] == k)
				fprintf(out, " %d", k);
	fprintf(out, "\n");
	snprintf(path, sizeof(path), "/proc/%d/status", (int) getpid());
	st = fopen(path, "re");
	if (!st)
		_exit(4);
	while (fgets(line, sizeof(line), st))
		if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
			fprintf(out, "%.6s %" PRIx64 "\n", line,
				(uint64_t) strtoull(line + 7, NULL, 16));
	fclose(st);
	fprintf(out, "own session %d\n", getsid(0) == getpid());
	fprintf(out, "pdeathsig %d\n", pdeathsig);
	for (int fd = 3; fd <= 6; fd++)
		fprintf(out, "cloexec %d %d\n", fd, cloexec[fd - 3]);
	fprintf(out, "HAGENT_CHANNEL_FDS=%s\nSPAWN_KEEP=%s\nSPAWN_OVERRIDE=%s %d\n",
		getenv("HAGENT_CHANNEL_FDS"), getenv("SPAWN_KEEP"), getenv("SPAWN_OVERRIDE"),
		n_override);
	if (fclose(out) != 0)
		_exit(5);
}

static const char probe_expected[] = "fds 0 1 2 3 4 5 6\n"
				     "SigBlk 0\n"
				     "SigIgn 0\n"
				     "own session 1\n"
				     "pdeathsig 0\n"
				     "cloexec 3 0\n"
				     "cloexec 4 0\n"
				     "cloexec 5 0\n"
				     "cloexec 6 0\n"
				     "HAGENT_CHANNEL_FDS=3,4,5,6\n"
				     "SPAWN_KEEP=inherited\n"
				     "SPAWN_OVERRIDE=new 1\n";

/*
 * Exactly what the program gets at exec: fds 0-6 and nothing else (3-6
 * without FD_CLOEXEC), no blocked and no ignored signal although we block
 * SIGTERM and SIGCHLD and ignore SIGPIPE and SIGUSR1, its own session,
 * no parent-death signal (monitors outlive the agent), and the environment: ours with
 * HAGENT_CHANNEL_FDS replaced and extra_env on top.
 */
START_TEST(test_probe)
{
	_cleanup_close_ int marker = memfd_create("spawn-leak-marker", 0);
	char path[128], env_probe[160], got[1024] = "";
	struct chan_fds f;
	FILE *in;
	int status;

	ck_assert_int_ge(marker, 0);
	block_signals();
	ck_assert_ptr_ne(signal(SIGPIPE, SIG_IGN), SIG_ERR);
	ck_assert_ptr_ne(signal(SIGUSR1, SIG_IGN), SIG_ERR);
	ck_assert_int_eq(setenv("HAGENT_CHANNEL_FDS", "bogus", 1), 0);
	ck_assert_int_eq(setenv("SPAWN_KEEP", "inherited", 1), 0);
	ck_assert_int_eq(setenv("SPAWN_OVERRIDE", "old", 1), 0);
	snprintf(path, sizeof(path), "%s/probe", T.dir);
	snprintf(env_probe, sizeof(env_probe), PROBE_ENV "=%s", path);

	chan_agent_fds(T.a, &f);
	ck_assert_int_eq(spawn(self_exe, &f,
			       (const char *const[]){env_probe, "SPAWN_OVERRIDE=new", NULL},
			       _i == 0),
			 0);
	status = wait_death(&T.p);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "probe: wait status 0x%x",
		      status);
	in = fopen(path, "re");
	ck_assert_ptr_nonnull(in);
	(void) fread(got, 1, sizeof(got) - 1, in);
	fclose(in);
	ck_assert_str_eq(got, probe_expected);
	expect_no_children();
}
END_TEST

/* Exec errors come back synchronously, the child reaped, no fd left behind. */
START_TEST(test_exec_errors)
{
	char path[128];
	struct chan_fds f;
	size_t n_fds;
	int fd;

	snprintf(path, sizeof(path), "%s/noexec", T.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
	ck_assert_int_eq(close(fd), 0);
	chan_agent_fds(T.a, &f);
	n_fds = count_own_fds();

	ck_assert_int_eq(spawn("/nonexistent/hamon-test", &f, NULL, _i == 0), -ENOENT);
	ck_assert_int_eq(T.p.pidfd, -EBADF); /* *ret untouched */
	expect_no_children();
	ck_assert_int_eq(spawn(path, &f, NULL, _i == 0), -EACCES);
	expect_no_children();
	ck_assert_uint_eq(count_own_fds(), n_fds);

	/* Refused before any clone. */
	ck_assert_int_eq(spawn("hamon-test", &f, NULL, _i == 0), -EINVAL);
	ck_assert_int_eq(spawn(bin, &f, (const char *const[]){"NOEQUALS", NULL}, _i == 0), -EINVAL);
	ck_assert_int_eq(spawn(bin, &f, (const char *const[]){"=x", NULL}, _i == 0), -EINVAL);
	ck_assert_int_eq(
		spawn(bin, &f, (const char *const[]){"HAGENT_CHANNEL_FDS=1,2,3,4", NULL}, _i == 0),
		-EINVAL);
	f.agent = -1;
	ck_assert_int_eq(spawn(bin, &f, NULL, _i == 0), -EBADF);
	expect_no_children();
	ck_assert_uint_eq(count_own_fds(), n_fds);
}
END_TEST

/*
 * The channel's fds sitting in 3-6 reversed (producer at 6 ... agent bell
 * at 3): a naive dup2() chain would clobber them.  Whatever Check keeps in
 * 3-6 is parked and put back around the spawn, with no ck_assert() between
 * (it writes to Check's fd).
 */
START_TEST(test_collision)
{
	struct chan_fds f, scrambled = {.producer = 6, .agent = 5, .mon_bell = 4, .agent_bell = 3};
	int saved[7], tmp[4], r, e1 = 0, e2 = 0;

	chan_agent_fds(T.a, &f);
	for (int i = 0; i < 4; i++) {
		tmp[i] = fcntl(chan_fd(&f, i), F_DUPFD_CLOEXEC, 300);
		ck_assert_int_ge(tmp[i], 0);
	}
	for (int fd = 3; fd <= 6; fd++)
		saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 400); /* -1: was not open */
	for (int i = 0; i < 4; i++)
		if (dup2(tmp[i], 6 - i) < 0)
			e1 = errno;
	r = spawn(bin, &scrambled, NULL, _i == 0);
	for (int fd = 3; fd <= 6; fd++) {
		if (saved[fd] >= 0) {
			if (dup2(saved[fd], fd) < 0)
				e2 = errno;
			(void) close(saved[fd]);
		} else
			(void) close(fd);
	}
	for (int i = 0; i < 4; i++)
		(void) close(tmp[i]);

	ck_assert_int_eq(e1, 0);
	ck_assert_int_eq(e2, 0);
	ck_assert_int_eq(r, 0);
	open_online(); /* attached: producer and agent pages right, agent bell heard */
	for (int i = 0; i < 4; i++)
		ck_assert(same_file(T.p.pid, chan_fd(&f, i), 3 + i));
	expect_killed(&T.p);
}
END_TEST

/* The soft "Max open files" of pid, from /proc/PID/limits. */
static long soft_nofile(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int) pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Max open files", 14) == 0)
			v = strtol(line + 14, NULL, 10);
	fclose(f);
	return v;
}

/*
 * An agent with thousands of fds (one resource costs it a few): every slot
 * below 1100 taken and the channel's fds above it.  The monitor still gets
 * them as 3-6 (the child lowers the descriptor limit to 1024 only after),
 * and runs with the soft limit 1024, not the agent's.
 */
START_TEST(test_many_fds)
{
	struct rlimit rl, saved_rl;
	struct chan_fds f, high;
	int filler[1100], n_filler = 0, tmp[4];

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved_rl), 0);
	if (saved_rl.rlim_max < 2048)
		return; /* cannot hold that many fds here: nothing to test */
	rl = (struct rlimit){.rlim_cur = 2048, .rlim_max = saved_rl.rlim_max};
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	chan_agent_fds(T.a, &f);
	for (int i = 0; i < 4; i++) {
		tmp[i] = fcntl(chan_fd(&f, i), F_DUPFD_CLOEXEC, 1500);
		ck_assert_int_ge(tmp[i], 1500);
	}
	high = (struct chan_fds){tmp[0], tmp[1], tmp[2], tmp[3]};
	while (n_filler < (int) ELEMENTSOF(filler)) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		if (fd >= 1100) {
			close(fd);
			break;
		}
		filler[n_filler++] = fd;
	}
	ck_assert_int_eq(spawn(bin, &high, NULL, _i == 0), 0);
	for (int i = 0; i < n_filler; i++)
		(void) close(filler[i]);
	for (int i = 0; i < 4; i++)
		(void) close(tmp[i]);
	(void) setrlimit(RLIMIT_NOFILE, &saved_rl);
	open_online(); /* attached: the channel reached it as 3-6 */
	for (int i = 0; i < 4; i++)
		ck_assert(same_file(T.p.pid, chan_fd(&f, i), 3 + i));
	ck_assert_int_eq(soft_nofile(T.p.pid), 1024);
	expect_killed(&T.p);
}
END_TEST

/* 50 spawns and kills: no fd and no child left behind. */
START_TEST(test_loop)
{
	struct chan_fds f;
	size_t n_fds;

	chan_agent_fds(T.a, &f);
	n_fds = count_own_fds();
	for (int k = 0; k < 50; k++) {
		ck_assert_int_eq(spawn(bin, &f, NULL, _i == 0 ? true : k % 2 == 0), 0);
		expect_killed(&T.p);
		monitor_proc_done(&T.p);
	}
	expect_no_children();
	ck_assert_uint_eq(count_own_fds(), n_fds);
}
END_TEST

/* ---- the child shares our memory until execve ---- */

#define CANARY_SIZE 4096
static uint8_t static_canary[CANARY_SIZE];

static void canary_fill(uint8_t *p, uint8_t seed)
{
	for (size_t i = 0; i < CANARY_SIZE; i++)
		p[i] = (uint8_t) (seed + i * 7);
}

static bool canary_intact(const uint8_t *p, uint8_t seed)
{
	for (size_t i = 0; i < CANARY_SIZE; i++)
		if (p[i] != (uint8_t) (seed + i * 7))
			return false;
	return true;
}

/*
 * The child runs on our memory (CLONE_VM) until its execve(): it must use
 * its own stack and write nothing of ours.  Canaries in static memory, on
 * the heap and in this frame, the spawn's inputs and our errno survive a
 * spawn that execs and one whose execve() fails (the child's longest path);
 * the child did run on the private stack (it wrote some of it), with a wide
 * margin before the guard page.
 */
START_TEST(test_parent_memory)
{
	static const char *const env[] = {"SPAWN_A=1", "SPAWN_B=2", NULL};
	const char *const env_ptrs[] = {env[0], env[1], NULL};
	uint8_t stack_canary[CANARY_SIZE], *heap = malloc(CANARY_SIZE);
	struct chan_fds f, f_copy;
	size_t used = 0;

	ck_assert_ptr_nonnull(heap);
	canary_fill(static_canary, 1);
	canary_fill(stack_canary, 2);
	canary_fill(heap, 3);
	block_signals();
	chan_agent_fds(T.a, &f);
	f_copy = f;

	errno = EDOM;
	ck_assert_int_eq(spawn_used(bin, &f, env, _i == 0, &used), 0);
	ck_assert_int_eq(errno, EDOM);
	ck_assert_uint_gt(used, 0);
	ck_assert_uint_lt(used, 32 * 1024);
	open_online(); /* it really got our channel and runs */
	expect_killed(&T.p);
	monitor_proc_done(&T.p);

	used = 0;
	ck_assert_int_eq(spawn_used("/nonexistent/hamon-test", &f, env, _i == 0, &used), -ENOENT);
	ck_assert_uint_gt(used, 0);
	ck_assert_uint_lt(used, 32 * 1024);

	ck_assert(canary_intact(static_canary, 1));
	ck_assert(canary_intact(stack_canary, 2));
	ck_assert(canary_intact(heap, 3));
	ck_assert_int_eq(memcmp(&f, &f_copy, sizeof(f)), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_eq(env[i], env_ptrs[i]);
	ck_assert_str_eq(env[0], "SPAWN_A=1");
	ck_assert_str_eq(env[1], "SPAWN_B=2");
	free(heap);
	expect_no_children();
}
END_TEST

/*
 * The link (channel-link.h): a helper process spawns hamon-test with one
 * end of a socketpair as its link, lets it start (LINK_GO) and is
 * SIGKILLed.  The monitor outlives it (no parent-death signal: the next
 * agent re-attaches monitors); as an orphan with no re-attach socket and
 * HAGENT_ORPHAN_TIMEOUT_MS=400 it closes its resource and exits once that
 * time has passed (loop 0), and without a timeout it stays (loop 1).  It is
 * not our child (it goes to main(), the subreaper), so its pidfd says when
 * it died, and main() reaps it.
 */
START_TEST(test_link_orphan)
{
	struct {
		pid_t monitor;
		int r;
	} *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct pollfd pfd = {.events = POLLIN};
	struct chan_fds f;
	pid_t helper;
	int pipefd[2];
	char c;

	ck_assert_ptr_ne(sh, MAP_FAILED);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	chan_agent_fds(T.a, &f);
	helper = fork();
	ck_assert_int_ge(helper, 0);
	if (helper == 0) {
		static const char *const env_timeout[] = {"HAGENT_ORPHAN_TIMEOUT_MS=400", NULL};
		const struct link_msg go = {
			.magic = LINK_MAGIC, .version = LINK_VERSION, .type = LINK_GO};
		struct monitor_proc p = MONITOR_PROC_NULL;
		int sp[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
			_exit(2);
		sh->r = monitor_spawn(bin, &f, sp[1], _i == 0 ? env_timeout : NULL, &p);
		sh->monitor = p.pid;
		if (sh->r == 0 && spawned->n < MAX_SPAWNED)
			spawned->pid[spawned->n++] = p.pid;
		if (send(sp[0], &go, sizeof(go), 0) != (ssize_t) sizeof(go))
			sh->r = -EIO;
		(void) !write(pipefd[1], "x", 1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	ck_assert_int_eq(sh->r, 0);
	pfd.fd = (int) syscall(SYS_pidfd_open, sh->monitor, 0);
	ck_assert_int_ge(pfd.fd, 0);
	open_online(); /* up and attached: its signal handling is libhamon's now */

	ck_assert_int_eq(kill(helper, SIGKILL), 0);
	ck_assert_int_eq(waitpid(helper, NULL, 0), helper);
	ck_assert_msg(poll(&pfd, 1, 200) == 0, "the monitor died with the agent");
	if (_i == 0) {
		ck_assert_msg(poll(&pfd, 1, WAIT_MS) == 1, "the orphan outlived its timeout");
	} else {
		ck_assert_msg(poll(&pfd, 1, 1000) == 0, "the orphan gave up without a timeout");
		ck_assert_int_eq(kill(sh->monitor, SIGKILL), 0);
		ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
	}
	close(pfd.fd);
	if (waitpid(sh->monitor, NULL, 0) < 0) /* ours only with CK_FORK=no: main() is here */
		ck_assert_int_eq(errno, ECHILD);
	munmap(sh, sizeof(*sh));
}
END_TEST

/*
 * Many spawns in a row, the monitors kept running (their fds and our
 * channel stay open, as in hagentd): every one attaches; then all killed.
 */
START_TEST(test_many)
{
	enum { N = 40 };
	struct monitor_proc procs[N];
	struct chan_agent *chans[N];
	size_t n_fds = count_own_fds();

	for (int k = 0; k < N; k++) {
		struct chan_fds f;

		ck_assert_int_eq(chan_agent_new(1, 100 + (uint64_t) k, &chans[k]), 0);
		chan_agent_fds(chans[k], &f);
		ck_assert_int_eq(spawn(bin, &f, NULL, _i == 0 ? true : k % 2 == 0), 0);
		procs[k] = T.p;
		T.p = MONITOR_PROC_NULL;
	}
	for (int k = 0; k < N; k++) {
		struct chan_agent *saved = T.a;

		T.a = chans[k];
		open_online();
		T.a = saved;
	}
	for (int k = 0; k < N; k++) {
		expect_killed(&procs[k]);
		monitor_proc_done(&procs[k]);
		chans[k] = chan_agent_free(chans[k]);
	}
	expect_no_children();
	ck_assert_uint_eq(count_own_fds(), n_fds);
}
END_TEST

Suite *monitor_spawn_suite(void);

Suite *monitor_spawn_suite(void)
{
	Suite *s = suite_create("monitor-spawn");
	TCase *tc;

	/* Loop index 0: CLONE_PIDFD; 1: pidfd_open() (test_loop, test_many: both, alternating). */
	tc = tcase_create("spawn");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_hamon_test, 0, 2);
	tcase_add_loop_test(tc, test_probe, 0, 2);
	tcase_add_loop_test(tc, test_exec_errors, 0, 2);
	tcase_add_loop_test(tc, test_collision, 0, 2);
	tcase_add_loop_test(tc, test_many_fds, 0, 2);
	tcase_add_loop_test(tc, test_loop, 0, 2);
	tcase_add_loop_test(tc, test_parent_memory, 0, 2);
	tcase_add_loop_test(tc, test_link_orphan, 0, 2);
	tcase_add_loop_test(tc, test_many, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *probe = getenv(PROBE_ENV);
	ssize_t n;
	int r;

	if (probe) {
		probe_report(probe); /* first thing: nothing opened yet */
		return 0;
	}

	bin = getenv("HAMON_TEST_BIN");
	if (!bin || access(bin, X_OK) < 0) {
		fprintf(stderr, "HAMON_TEST_BIN not set or not executable: skipped\n");
		return 77;
	}
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return 1;
	spawned = mmap(NULL, sizeof(*spawned), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0); /* not shared_new(): no ck_assert() outside a test */
	if (spawned == MAP_FAILED)
		return 1;
	r = test_run_suite(monitor_spawn_suite());
	kill_leftovers();
	return r;
}
