/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Spawning monitor processes the way posix_spawn() does: clone() with
 * CLONE_VM | CLONE_VFORK | CLONE_PIDFD on a stack of its own, so the child
 * shares our address space until its execve() and nothing is copied (a
 * fork-like clone copies every page table entry of the agent, whose
 * mappings grow with the resources, which made starting N resources
 * quadratic).  The child makes the channel's fds its 3-6, closes the rest
 * and execs.
 *
 * What the child may do, with our memory under it: only raw system calls
 * through async-signal-safe libc wrappers, on its own stack, reading the
 * plan the parent built before the clone (argv, envp, fds, the fd limit)
 * and writing nothing but plan->err.  No malloc, no stdio, no lock.  The
 * calling thread is suspended until the child has exec'd or exited (that
 * is what makes plan->err safe to read after clone() returns); the agent's
 * other threads, if any, run on, and the child touches nothing of theirs.
 * errno is the calling thread's (same TLS): the child clobbers it, and
 * monitor_spawn_full() puts it back.
 */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/param.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "monitor-spawn-internal.h"
#include "monitor-spawn.h"

#define CHANNEL_FDS_KEY "HAGENT_CHANNEL_FDS"
#define CHANNEL_FDS_ENV CHANNEL_FDS_KEY "=3,4,5,6"
#define LINK_FD_KEY	"HAGENT_LINK_FD"
#define LINK_FD_ENV	LINK_FD_KEY "=7"
#define LINK_FD_NUM	7  /* the link to the agent (channel-link.h), when there is one */
#define FIRST_FREE_FD	8  /* after 0-2, the channel's 3-6 and the link's 7 */
#define SCRATCH_FD_MIN	10 /* the child parks fds here while it fills 3-6 */
#define NOFILE_SOFT	1024 /* systemd's default soft limit: select() users expect it */

/*
 * The child's stack: its frames are small (no array but a sigaction and a
 * few ints; execve copies argv and envp in the kernel), so 64 KiB leaves a
 * wide margin, sanitizer builds included.  Below it a guard page: an
 * overflow faults instead of writing into whatever is mapped there.
 */
#define CHILD_STACK_SIZE (64 * 1024)

/* plan->err before the child reaches its execve(): it died on the way (a signal). */
#define ERR_NOT_EXECED (-1)

/*
 * No ASan instrumentation in the child: its stack is not one the sanitizer
 * knows (poisoned redzones would outlive the mapping), and a fake stack
 * frame would be allocated in the parent's name.
 */
#if defined(__SANITIZE_ADDRESS__)
#define _child_ __attribute__((no_sanitize_address, noinline))
#else
#define _child_ __attribute__((noinline))
#endif

extern char **environ;

/* What the child needs, prepared by the parent; the child writes only err. */
struct spawn_plan {
	const char *program;
	char *argv[2];
	char **envp;
	int src[5]; /* producer, agent, mon_bell, agent_bell, link (or -1) */
	int n_src;
	long max_fd;
	pid_t parent; /* the agent */
	struct rlimit nofile; /* the monitor's descriptor limit */
	/*
	 * ERR_NOT_EXECED, then 0 just before execve(), then its errno if it
	 * failed.  Written by the child, read by the parent after clone()
	 * returned: CLONE_VFORK orders the two (the parent sleeps until the
	 * child released our mm, by execve() or by exiting).
	 */
	volatile int err;
};

static size_t key_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t) (eq - entry) : strlen(entry);
}

/*
 * Keys a monitor never inherits nor gets from extra_env: the ones spawn sets
 * itself, and systemd's words to hagentd (NotifyAccess=main: a monitor's
 * messages would be refused).
 */
static const char *const reserved_keys[] = {
	CHANNEL_FDS_KEY, LINK_FD_KEY, "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC",
};

/* Is the key of entry reserved, or set by extra (NULL-terminated)? */
static bool overridden(const char *entry, const char *const *extra)
{
	size_t n = key_len(entry);

	for (size_t i = 0; i < ELEMENTSOF(reserved_keys); i++)
		if (n == strlen(reserved_keys[i]) && memcmp(entry, reserved_keys[i], n) == 0)
			return true;
	for (; extra && *extra; extra++)
		if (key_len(*extra) == n && memcmp(*extra, entry, n) == 0)
			return true;
	return false;
}

/* environ minus overridden keys, then HAGENT_CHANNEL_FDS (and HAGENT_LINK_FD), then extra. */
static int build_envp(const char *const *extra, bool link, char ***ret)
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

	envp = calloc(n_env + 2 + n_extra + 1, sizeof(char *));
	if (!envp)
		return -ENOMEM;
	for (char **e = environ; e && *e; e++)
		if (!overridden(*e, extra))
			envp[k++] = *e;
	envp[k++] = (char *) CHANNEL_FDS_ENV;
	if (link)
		envp[k++] = (char *) LINK_FD_ENV;
	for (size_t i = 0; i < n_extra; i++)
		envp[k++] = (char *) extra[i];
	envp[k] = NULL;
	*ret = envp;
	return 0;
}

/* The child, from here to the end of child_main(): async-signal-safe, shared mm. */
_child_ static void close_fds(unsigned first, long max_fd)
{
	if (close_range(first, ~0U, 0) == 0)
		return;
	for (long fd = first; fd < max_fd; fd++) /* before Linux 5.9 */
		(void) close((int) fd);
}

_child_ _Noreturn static void child_fail(struct spawn_plan *plan, int err)
{
	plan->err = err > 0 ? err : EIO;
	_exit(127);
}

_child_ static int child_main(void *arg)
{
	struct spawn_plan *plan = arg;
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t empty;
	int tmp[5];

	/* Defaults first, while everything is still blocked: no agent handler runs here. */
	(void) sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void) sigaction(sig, &sa, NULL); /* glibc's internal ones: EINVAL */
	(void) sigemptyset(&empty);
	if (sigprocmask(SIG_SETMASK, &empty, NULL) < 0)
		child_fail(plan, errno);

	/*
	 * A session of its own: a signal to the agent's process group does not
	 * reach it.  No parent-death signal: a monitor outlives the agent, and
	 * the next agent re-attaches it (docs/agent-restart.md); the link (fd 7)
	 * hanging up is how it learns that the agent is gone.
	 */
	if (setsid() < 0)
		child_fail(plan, errno);

	/*
	 * Park the channel fds above 3-6 first: any of them may sit in 3-6
	 * already, in any order, and dup2() into its slot would clobber it.
	 * The fd table is the child's own copy (no CLONE_FILES).
	 */
	for (int i = 0; i < plan->n_src; i++) {
		tmp[i] = fcntl(plan->src[i], F_DUPFD_CLOEXEC, SCRATCH_FD_MIN);
		if (tmp[i] < 0)
			child_fail(plan, errno);
	}
	for (int i = 0; i < plan->n_src; i++)
		if (dup2(tmp[i], 3 + i) < 0) /* tmp[i] >= 10, so this clears FD_CLOEXEC */
			child_fail(plan, errno);
	close_fds((unsigned) (3 + plan->n_src), plan->max_fd); /* the parked copies too */

	/*
	 * What hagentd has for itself, not for the services a monitor starts:
	 * the OOM killer's protection, the raised descriptor limit (back to
	 * systemd's default soft limit).  Best effort, and last: with the lower
	 * limit, moving the channel's fds (their numbers may be anything while
	 * the agent holds thousands) could fail with EMFILE.
	 */
	(void) setrlimit(RLIMIT_NOFILE, &plan->nofile);
	{
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			(void) !write(fd, "0", 1);
			(void) close(fd);
		}
	}

	plan->err = 0;
	(void) execve(plan->program, plan->argv, plan->envp);
	child_fail(plan, errno);
}

/*
 * Every signal blocked, glibc's internal ones included (pthread_sigmask()
 * would leave those out): the child must not run a handler of ours on our
 * memory before it has reset them.  The raw system call, as posix_spawn().
 */
static int block_all_signals(sigset_t *ret_old)
{
	sigset_t all;

	memset(&all, 0xff, sizeof(all));
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, ret_old, (size_t) (_NSIG / 8)) < 0)
		return -errno;
	return 0;
}

static void restore_signals(const sigset_t *old)
{
	(void) syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, (size_t) (_NSIG / 8));
}

/* How much of the child's stack was written: the first non-zero byte from the bottom. */
static size_t stack_used(const uint8_t *lo, const uint8_t *hi)
{
	const uint8_t *p = lo;

	while (p < hi && *p == 0)
		p++;
	return (size_t) (hi - p);
}

/*
 * clone(CLONE_VM | CLONE_VFORK [| CLONE_PIDFD]) with every signal blocked
 * across it.  Returns once the child has exec'd or exited; *ret_pidfd is
 * -EBADF if the kernel gave no pidfd (a kernel older than 5.2 ignores the
 * flag; the caller opens one).
 */
static pid_t clone_child(struct spawn_plan *plan, bool clone_pidfd, size_t *ret_stack_used,
			 int *ret_pidfd)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = CHILD_STACK_SIZE + (size_t) page;
	int flags = CLONE_VM | CLONE_VFORK | SIGCHLD, pidfd = -EBADF, r;
	uint8_t *stack;
	sigset_t old;
	pid_t pid;

	stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
		     -1, 0);
	if (stack == MAP_FAILED)
		return -errno;
	if (mprotect(stack, (size_t) page, PROT_NONE) < 0) { /* the guard: stacks grow down */
		r = -errno;
		(void) munmap(stack, size);
		return r;
	}
	if (clone_pidfd)
		flags |= CLONE_PIDFD;

	r = block_all_signals(&old);
	if (r < 0) {
		(void) munmap(stack, size);
		return r;
	}
	/* The pidfd comes back through parent_tid (clone(2), CLONE_PIDFD). */
	pid = clone(child_main, stack + size, flags, plan, &pidfd, NULL, NULL);
	r = pid < 0 ? -errno : 0;
	restore_signals(&old);

	/* The child is done with the stack: it exec'd (a new mm) or exited. */
	if (r == 0 && ret_stack_used)
		*ret_stack_used = stack_used(stack + page, stack + size);
	(void) munmap(stack, size);
	if (r < 0)
		return r;
	*ret_pidfd = pidfd;
	return pid;
}

static int spawn(const char *program, const struct chan_fds *fds, int link_fd,
		 const char *const *extra_env, bool clone_pidfd, size_t *ret_stack_used,
		 struct monitor_proc *ret)
{
	_cleanup_free_ char **envp = NULL;
	struct spawn_plan plan;
	int pidfd = -EBADF, saved_errno = errno, r;
	pid_t pid;

	assert_return(program && program[0] == '/', -EINVAL);
	assert_return(fds && ret, -EINVAL);
	assert_return(fds->producer >= 0 && fds->agent >= 0, -EBADF);
	assert_return(fds->mon_bell >= 0 && fds->agent_bell >= 0, -EBADF);

	r = build_envp(extra_env, link_fd >= 0, &envp);
	if (r < 0)
		return r;

	plan = (struct spawn_plan){
		.program = program,
		.argv = {(char *) program, NULL},
		.envp = envp,
		.src = {fds->producer, fds->agent, fds->mon_bell, fds->agent_bell, link_fd},
		.n_src = link_fd >= 0 ? 5 : 4,
		.max_fd = sysconf(_SC_OPEN_MAX),
		.parent = getpid(),
		.err = ERR_NOT_EXECED,
	};
	if (plan.max_fd < 0)
		plan.max_fd = 65536;
	if (getrlimit(RLIMIT_NOFILE, &plan.nofile) < 0 || plan.nofile.rlim_cur > NOFILE_SOFT)
		plan.nofile.rlim_cur = MIN((rlim_t) NOFILE_SOFT, plan.nofile.rlim_max);

	pid = clone_child(&plan, clone_pidfd, ret_stack_used, &pidfd);
	/* A seccomp filter may refuse the flag (EPERM, ENOSYS); an odd kernel, EINVAL. */
	if (clone_pidfd && (pid == -EINVAL || pid == -ENOSYS || pid == -EPERM)) {
		plan.err = ERR_NOT_EXECED;
		pid = clone_child(&plan, false, ret_stack_used, &pidfd);
	}
	if (pid < 0)
		return (int) pid;

	if (plan.err != 0) {
		/*
		 * Not executing: it exited after a failed step, or a signal
		 * killed it before its execve().  Either way it is gone (the
		 * vfork wait ended), so reaping does not block.  Our unreaped
		 * child: its pid cannot have been reused.
		 */
		r = plan.err == ERR_NOT_EXECED ? -ECHILD : -plan.err;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		safe_close(pidfd);
		return r;
	}
	if (pidfd < 0) {
		/* No CLONE_PIDFD: the same, by pid; still our unreaped child. */
		pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			r = -errno;
			(void) kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			return r;
		}
	}

	*ret = (struct monitor_proc){.pid = pid, .pidfd = pidfd, .reaped = false};
	errno = saved_errno; /* the child's failed sigaction() calls wrote it */
	return 0;
}

int monitor_spawn_full(const char *program, const struct chan_fds *fds,
		       const char *const *extra_env, bool clone_pidfd, size_t *ret_stack_used,
		       struct monitor_proc *ret)
{
	return spawn(program, fds, -EBADF, extra_env, clone_pidfd, ret_stack_used, ret);
}

int monitor_spawn(const char *program, const struct chan_fds *fds, int link_fd,
		  const char *const *extra_env, struct monitor_proc *ret)
{
	return spawn(program, fds, link_fd, extra_env, true, NULL, ret);
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
