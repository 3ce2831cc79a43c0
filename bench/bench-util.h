/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What every hagent benchmark needs besides the code it measures: timing
 * loops, medians and percentiles, the result table, and helper processes
 * that share a control page with the parent, die with it, and are always
 * reaped.  Nothing here is thread-safe; none of it needs to be.
 */

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "time-util.h"

#define MAX_RUNS     99u
#define REPORT_ROWS  48u
#define REPORT_NOTES 32u

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Keeps the compiler from dropping copies whose result nobody reads. */
static inline void keep(const void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static inline uint64_t now(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

/* xorshift64*: cheap, deterministic, good enough to pick slots; *s must not be 0. */
uint64_t rng_next(uint64_t *s);

/* Sleeps about ns; a signal only cuts it short. */
void sleep_ns(uint64_t ns);

/* part/whole in percent, 0 if whole is 0. */
double percent(uint64_t part, uint64_t whole);

/* A busy-wait: pause, and give the CPU away every 64 steps (2 shared vCPUs). */
struct spinner {
	unsigned n;
};
void spin(struct spinner *s);

/* Waits until *flag is non-zero (acquire); -ETIMEDOUT at the deadline. */
int wait_flag(_Atomic uint32_t *flag, uint64_t deadline);

/* Nearest-rank percentile p (0..100) of v[0..n), NAN if n is 0; sorts v. */
double percentile(double *v, size_t n, double p);

/* One value per run. */
struct series {
	unsigned n;
	double v[MAX_RUNS];
};
void series_add(struct series *s, double v);
double series_median(const struct series *s);

/*
 * The operation a timed phase repeats; i counts the calls.  A negative
 * errno stops the phase and is returned.
 */
typedef int (*bench_op)(void *ctx, uint64_t i);

/* Calls op for about duration_ns, reading the clock every batch calls; *ret: ns per call. */
int time_op(bench_op op, void *ctx, unsigned batch, uint64_t duration_ns, double *ret);

/*
 * The command line of a benchmark that takes only -h/--help, -q/--quick and
 * -r/--runs N (1..max_runs): 1 go on, 0 help was printed (exit successfully),
 * -EINVAL bad usage (said on stderr).  *quick and *runs are set when given.
 */
int bench_parse_argv(int argc, char *argv[], unsigned max_runs, void (*help)(void), bool *quick,
		     unsigned *runs);

/* ---- the result table ---- */

enum unit {
	UNIT_US,
	UNIT_NS,
	UNIT_MPS,
	UNIT_PCT,
	UNIT_COUNT,
	UNIT_MS,
	UNIT_S,
	UNIT_KIB,
	UNIT_MIB,
};

struct row {
	char metric[72];
	enum unit unit;
	double value; /* median over runs */
	double floor; /* median over runs; NAN: none */
	char target[48];
};

struct report {
	unsigned n_rows, n_notes;
	struct row rows[REPORT_ROWS];
	char notes[REPORT_NOTES][700];
};

void report_row(struct report *rep, const char *metric, enum unit unit, double value, double floor,
		const char *target);
/* A row of medians; floor may be NULL. */
void report_series(struct report *rep, const char *metric, enum unit unit,
		   const struct series *value, const struct series *floor, const char *target);
__attribute__((format(printf, 2, 3))) void report_note(struct report *rep, const char *fmt, ...);
/* The table (metric | median | floor | ratio | target), then the notes, to stdout. */
void report_print(const struct report *rep);

/* ---- helper processes ---- */

/* Shared between the parent and one helper process (MAP_SHARED, zeroed). */
struct ctl {
	alignas(64) _Atomic uint32_t ready;    /* helper: set up, waiting for go */
	_Atomic uint32_t go;		       /* parent: start */
	_Atomic uint32_t stop;		       /* parent: finish now */
	_Atomic uint32_t done;		       /* helper: finished its work */
	alignas(64) _Atomic uint64_t stamp_ns; /* a timestamp the helper hands over */
	alignas(64) _Atomic uint64_t count;    /* helper's units of work */
	_Atomic uint64_t coalesced;	       /* ring: posts that went to a register */
	_Atomic uint64_t elapsed_ns;
};

int ctl_new(struct ctl **ret);
void ctl_unmapp(struct ctl **c);

typedef int (*child_fn)(void *arg);

/*
 * Runs fn(arg) in a forked child that dies with the parent (SIGKILL); the
 * negative errno fn returns becomes the exit status.
 */
int child_spawn(child_fn fn, void *arg, pid_t *ret_pid);
/* Reaps *pid, killing it if it has not exited within timeout_ns; the child's error, or 0. */
int child_reap(pid_t *pid, uint64_t timeout_ns);
/* Cleanup: kills and reaps *pid unless already reaped (0). */
void child_killp(pid_t *pid);
