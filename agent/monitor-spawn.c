/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Spawning monitor processes: clone3(CLONE_PIDFD), the fd shuffle into 3-6,
 * execve, and the exec error sent back through a close-on-exec pipe.  The
 * child runs only async-signal-safe code: everything it needs (argv, envp,
 * the fd limit) is built before the clone.
 */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "monitor-spawn-internal.h"
#include "monitor-spawn.h"

#define CHANNEL_FDS_KEY "HAGENT_CHANNEL_FDS"
#define CHANNEL_FDS_ENV CHANNEL_FDS_KEY "=3,4,5,6"
#define FIRST_FREE_FD	7  /* after 0-2 and the channel's 3-6 */
#define SCRATCH_FD_MIN	10 /* the child parks fds here while it fills 3-6 */

extern char **environ;

/* The first fields of the kernel's struct clone_args (CLONE_ARGS_SIZE_VER0, 64 bytes). */
struct clone_args_v0 {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
};

/* What the child needs, prepared by the parent. */
struct spawn_plan {
	const char *program;
	char *argv[2];
	char **envp;
	int src[4]; /* producer, agent, mon_bell, agent_bell */
	int err_fd; /* write end of the exec-error pipe */
	long max_fd;
	pid_t parent; /* the agent */
};

static size_t key_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t) (eq - entry) : strlen(entry);
}

/* Does extra (NULL-terminated) set the key of entry? */
static bool overridden(const char *entry, const char *const *extra)
{
	size_t n = key_len(entry);

	if (n == strlen(CHANNEL_FDS_KEY) && memcmp(entry, CHANNEL_FDS_KEY, n) == 0)
		return true;
	for (; extra && *extra; extra++)
		if (key_len(*extra) == n && memcmp(*extra, entry, n) == 0)
			return true;
	return false;
}

/* environ minus overridden keys, then HAGENT_CHANNEL_FDS, then extra: pointers only. */
static int build_envp(const char *const *extra, char ***ret)
{
	size_t n_env = 0, n_extra = 0, k = 0;
	char **envp;

	for (const char *const *e = extra; e && *e; e++) {
		if (!strchr(*e, '=') || **e == '=' || overridden(*e, NULL))
			return -EINVAL; /* not KEY=VALUE, or HAGENT_CHANNEL_FDS */
		n_extra++;
	}
	for (char **e = environ; e && *e; e++)
		n_env++;

	envp = calloc(n_env + 1 + n_extra + 1, sizeof(char *));
	if (!envp)
		return -ENOMEM;
	for (char **e = environ; e && *e; e++)
		if (!overridden(*e, extra))
			envp[k++] = *e;
	envp[k++] = (char *) CHANNEL_FDS_ENV;
	for (size_t i = 0; i < n_extra; i++)
		envp[k++] = (char *) extra[i];
	envp[k] = NULL;
	*ret = envp;
	return 0;
}

/* Async-signal-safe from here to the end of child_exec(). */
static void close_fds(unsigned first, unsigned last, long max_fd)
{
	if (first > last)
		return;
	if (close_range(first, last, 0) == 0)
		return;
	for (long fd = first; fd <= (long) last && fd < max_fd; fd++) /* before Linux 5.9 */
		(void) close((int) fd);
}

_Noreturn static void child_fail(int err_fd, int err)
{
	ssize_t n;

	do
		n = write(err_fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

_Noreturn static void child_exec(const struct spawn_plan *plan)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	int tmp[4], err_fd = plan->err_fd;
	sigset_t empty;

	/* Defaults first, while everything is still blocked: no agent handler runs here. */
	(void) sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void) sigaction(sig, &sa, NULL); /* glibc's internal ones: EINVAL */
	(void) sigemptyset(&empty);
	if (sigprocmask(SIG_SETMASK, &empty, NULL) < 0)
		child_fail(err_fd, errno);

	if (setsid() < 0)
		child_fail(err_fd, errno);
	/*
	 * A monitor does not outlive the agent: SIGTERM (libhamon terminates and
	 * closes its resources, then exits) when the agent dies, however it dies,
	 * so a restarted agent never finds a resource running twice.  If the
	 * agent is gone already, the signal will not come: give up now.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		child_fail(err_fd, errno);
	if (getppid() != plan->parent)
		child_fail(err_fd, ESRCH);

	/*
	 * Park the pipe and the channel fds above 3-6 first: any of them may sit
	 * in 3-6 already, in any order, and dup2() into its slot would clobber it.
	 */
	err_fd = fcntl(err_fd, F_DUPFD_CLOEXEC, SCRATCH_FD_MIN);
	if (err_fd < 0)
		child_fail(plan->err_fd, errno);
	for (int i = 0; i < 4; i++) {
		tmp[i] = fcntl(plan->src[i], F_DUPFD_CLOEXEC, SCRATCH_FD_MIN);
		if (tmp[i] < 0)
			child_fail(err_fd, errno);
	}
	for (int i = 0; i < 4; i++)
		if (dup2(tmp[i], 3 + i) < 0) /* tmp[i] >= 10, so this clears FD_CLOEXEC */
			child_fail(err_fd, errno);

	/* Everything else goes; the pipe closes itself at execve. */
	close_fds(FIRST_FREE_FD, (unsigned) err_fd - 1, plan->max_fd);
	close_fds((unsigned) err_fd + 1, ~0U, plan->max_fd);

	(void) execve(plan->program, plan->argv, plan->envp);
	child_fail(err_fd, errno);
}

/* The child's exec result: 0, or the errno it sent. */
static int read_exec_result(int fd)
{
	int err = 0;
	ssize_t n;

	do
		n = read(fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0; /* the pipe closed at execve */
	if (n != (ssize_t) sizeof(err) || err <= 0)
		return -EIO;
	return -err;
}

/* clone3 or fork, with every signal blocked across it; the child never returns. */
static pid_t clone_child(const struct spawn_plan *plan, bool try_clone3, int *ret_pidfd)
{
	sigset_t all, old;
	pid_t pid = -1;
	int pidfd = -EBADF, r;

	(void) sigfillset(&all);
	r = pthread_sigmask(SIG_SETMASK, &all, &old);
	if (r != 0)
		return -r;

	if (try_clone3) {
		struct clone_args_v0 args = {
			.flags = CLONE_PIDFD,
			.pidfd = (uint64_t) (uintptr_t) &pidfd,
			.exit_signal = SIGCHLD,
		};

		pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
		if (pid < 0 && errno != ENOSYS) {
			r = -errno;
			goto out;
		}
	}
	if (pid < 0)
		pid = fork();
	if (pid == 0)
		child_exec(plan);
	r = pid < 0 ? -errno : 0;
out:
	(void) pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;

	if (pidfd < 0) {
		/* fork(): our unreaped child, so the pid cannot have been reused. */
		pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			r = -errno;
			(void) kill(pid, SIGKILL);
			(void) waitpid(pid, NULL, 0);
			return r;
		}
	}
	*ret_pidfd = pidfd;
	return pid;
}

int monitor_spawn_full(const char *program, const struct chan_fds *fds,
		       const char *const *extra_env, bool try_clone3, struct monitor_proc *ret)
{
	_cleanup_close_ int pipe_r = -EBADF, pipe_w = -EBADF;
	_cleanup_free_ char **envp = NULL;
	struct spawn_plan plan;
	int pipefd[2], pidfd = -EBADF, r;
	pid_t pid;

	assert_return(program && program[0] == '/', -EINVAL);
	assert_return(fds && ret, -EINVAL);
	assert_return(fds->producer >= 0 && fds->agent >= 0, -EBADF);
	assert_return(fds->mon_bell >= 0 && fds->agent_bell >= 0, -EBADF);

	r = build_envp(extra_env, &envp);
	if (r < 0)
		return r;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pipe_r = pipefd[0];
	pipe_w = pipefd[1];

	plan = (struct spawn_plan){
		.program = program,
		.argv = {(char *) program, NULL},
		.envp = envp,
		.src = {fds->producer, fds->agent, fds->mon_bell, fds->agent_bell},
		.err_fd = pipe_w,
		.max_fd = sysconf(_SC_OPEN_MAX),
		.parent = getpid(),
	};
	if (plan.max_fd < 0)
		plan.max_fd = 65536;

	pid = clone_child(&plan, try_clone3, &pidfd);
	if (pid < 0)
		return (int) pid;
	pipe_w = safe_close(pipe_w); /* else our own copy keeps the pipe open */

	r = read_exec_result(pipe_r);
	if (r < 0) {
		siginfo_t si;

		/*
		 * The child _exit()s right after writing, so reaping it does not
		 * block for long.  SIGKILL first in case the read failed for a
		 * reason of its own and the program is running after all.
		 */
		(void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		while (waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		safe_close(pidfd);
		return r;
	}

	*ret = (struct monitor_proc){.pid = pid, .pidfd = pidfd, .reaped = false};
	return 0;
}

int monitor_spawn(const char *program, const struct chan_fds *fds, const char *const *extra_env,
		  struct monitor_proc *ret)
{
	return monitor_spawn_full(program, fds, extra_env, true, ret);
}

int monitor_signal(const struct monitor_proc *p, int sig)
{
	assert_return(p && p->pidfd >= 0, -EBADF);

	if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

int monitor_reap(struct monitor_proc *p, int *ret_status)
{
	siginfo_t si = {.si_pid = 0};
	int status;

	assert_return(p && p->pidfd >= 0, -EBADF);
	if (p->reaped)
		return -ECHILD;

	if (waitid(P_PIDFD, (id_t) p->pidfd, &si, WEXITED | WNOHANG) < 0)
		return -errno;
	if (si.si_pid == 0)
		return -EAGAIN;

	switch (si.si_code) {
	case CLD_EXITED:
		status = (si.si_status & 0xff) << 8;
		break;
	case CLD_DUMPED:
		status = (si.si_status & 0x7f) | 0x80; /* WCOREDUMP */
		break;
	default: /* CLD_KILLED */
		status = si.si_status & 0x7f;
		break;
	}
	p->reaped = true;
	if (ret_status)
		*ret_status = status;
	return 0;
}

void monitor_proc_done(struct monitor_proc *p)
{
	if (!p)
		return;
	p->pidfd = safe_close(p->pidfd);
	p->pid = 0;
	p->reaped = false;
}
