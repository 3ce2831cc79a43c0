/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * hagent-bench-agent: what the parts share.  The agent under test is the
 * built hagentd, run in a private directory with the built monitor programs;
 * every process it starts is a descendant of the benchmark, which is a child
 * subreaper, so that monitors and their commands (each in a session of its
 * own) come back to it and are killed and reaped by bench_reap_all().
 */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "bench-util.h"
#include "hagent/shm.h"

#define BENCH_PATH_MAX 256

/* Set by SIGINT/SIGTERM/SIGHUP: every wait gives up with -EINTR, then main cleans up. */
extern volatile sig_atomic_t bench_interrupted;

/* The programs under test and the private directory every agent runs in. */
struct bench_env {
	char hagentd[BENCH_PATH_MAX];
	char monitorctl[BENCH_PATH_MAX];
	char monitor_dir[BENCH_PATH_MAX];
	char base[BENCH_PATH_MAX];     /* mkdtemp'd; removed at exit */
	char fastbase[BENCH_PATH_MAX]; /* tmpfs where there is one (seeding), else base */
	bool quick;
	unsigned runs;
	unsigned fault_samples; /* kills per kind per run */
	uint32_t scale_n;	/* resources of items 3-5 */
	uint32_t scale_steps[4];
	unsigned n_scale_steps;
	uint32_t max_resources; /* hagentd's --max-resources: at least this */
	uint32_t max_groups;	/* --max-groups passed to hagentd, 0: its default */
};

/* One running hagentd. */
struct agent {
	char rundir[BENCH_PATH_MAX];
	char statedir[BENCH_PATH_MAX];
	char log[BENCH_PATH_MAX];
	pid_t pid;
	uint64_t start_ns;	/* CLOCK_MONOTONIC just before the fork */
	uint64_t start_real_ns; /* CLOCK_REALTIME at the same moment */
	hagent_shm *shm;
};

/* ---- bench-agent-proc.c: directories, configuration, agents, processes ---- */

int bench_env_dirs(struct bench_env *env);
void bench_env_cleanup(struct bench_env *env);

/* A fresh directory <parent>/<name>-<n>; path gets it. */
int bench_mkdir(const char *parent, const char *name, char path[BENCH_PATH_MAX]);

/*
 * Seeds <statedir>/hagent.db: type `type`, groups of group_size, n resources
 * named <prefix><i> with props, persistent target online if online.
 */
struct seed {
	const char *type;
	const char *prefix;
	uint32_t n;
	uint32_t group_size;
	const char *const *props; /* "Key=Value", NULL-terminated; may be NULL */
	bool online;
};
int bench_seed(const char *statedir, const struct seed *seeds, size_t n_seeds);

/*
 * How long monitors wait for a new hagentd once theirs is gone (hagentd's
 * --orphan-timeout): the benchmark kills them itself, this bounds the strays
 * of a benchmark that was SIGKILLed.  Longer than any restart it measures.
 */
#define BENCH_ORPHAN_TIMEOUT_S "30"

/*
 * Starts hagentd on statedir with a fresh runtime dir (its log there too);
 * max_resources, max_groups 0: hagentd's defaults.  Does not wait.
 */
int agent_start(const struct bench_env *env, const char *statedir, uint32_t max_resources,
		uint32_t max_groups, struct agent *a);

/* agent_start() with more to say. */
struct agent_opts {
	uint32_t max_resources, max_groups; /* 0: hagentd's defaults */
	const char *rundir;		    /* NULL: a fresh one; else this one (a restart) */
	const char *notify_socket;	    /* NOTIFY_SOCKET ("@..." abstract); NULL: none */
	bool stop_leave;		    /* --stop-mode leave (default offline) */
};
int agent_start_opts(const struct bench_env *env, const char *statedir, const struct agent_opts *o,
		     struct agent *a);
/* Waits for the segment (hagentd listening); -ECHILD if hagentd exited. */
int agent_attach(struct agent *a, uint64_t timeout_ns);
/* SIGKILLs hagentd and every other descendant; reaps them all; idempotent. */
void agent_stop(struct agent *a);
/* The last lines of the agent's log, to stderr (after a failure). */
void agent_log_tail(const struct agent *a, unsigned lines);

/* Kills every descendant of this process and reaps it; returns how many were killed. */
unsigned bench_reap_all(void);

/* Sleeps ns; -EINTR if the benchmark was interrupted. */
int bench_sleep(uint64_t ns);

/* /proc figures, in KiB; negative errno if the process is gone. */
int proc_vmrss_kib(pid_t pid, uint64_t *ret);
int proc_pss_kib(pid_t pid, uint64_t *ret);
int proc_threads(pid_t pid, unsigned *ret);
int proc_count_fds(pid_t pid, unsigned *ret);
/* How many children the main thread of pid has (/proc/PID/task/PID/children). */
int proc_children(pid_t pid, unsigned *ret);
/* The soft limit "Max open files" of pid, from /proc/PID/limits. */
int proc_nofile_limit(pid_t pid, uint64_t *ret);
/* Tasks (threads) on the machine now, from /proc/loadavg. */
int sys_tasks(unsigned *ret);
int sys_pid_max(unsigned *ret);
int sys_mem_available_kib(uint64_t *ret);

/* posix_spawn of argv with stdout/stderr to /dev/null; waits; *ret_ns: the wall time. */
int run_quiet(char *const argv[], uint64_t *ret_ns);

/* The table is bench-util.h's struct report (report_row(), report_note(), report_print()). */

/* ---- the parts; each adds its rows, returns a negative errno if it could not run ---- */

int bench_fault(const struct bench_env *env, struct report *rep);
int bench_scale(const struct bench_env *env, struct report *rep);
int bench_control(const struct bench_env *env, struct report *rep);
int bench_group(const struct bench_env *env, struct report *rep);
int bench_restart(const struct bench_env *env, struct report *rep);

/* ---- the control API (bench-agent-control.c), shared by the parts that call it ---- */

/* A peer-to-peer sd-bus connection to <rundir>/control.sock. */
int bench_bus_connect(const char *rundir, sd_bus **ret);
void bench_bus_closep(sd_bus **b);
/* Waits for control.sock; false if hagentd has none (no control API yet). */
bool bench_wait_socket(const struct agent *a);

/* ---- helpers shared by the parts (bench-agent-seg.c) ---- */

/* Reads the table; *ret_online counts Online resources, *ret_with_monitor those with a monitor. */
struct seg_count {
	size_t n;
	size_t online;
	size_t failed;
	size_t with_monitor;
	int32_t first_error;	      /* last_error of a Failed resource, 0 if none */
	uint64_t last_change_real_ns; /* max state_change_ns */
};
int seg_count(hagent_shm *s, struct seg_count *ret);

/* Polls the record of name until its state is want; ret (may be NULL) gets it. */
int seg_wait_state(hagent_shm *s, uint32_t slot, int32_t want, uint64_t timeout_ns,
		   struct hagent_resource *ret);
