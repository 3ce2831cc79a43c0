/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl: looks at hagent's groups and resources.  The read-only
 * commands read the state segment straight from shared memory (no round
 * trip to hagentd); the commands that change something need hagentd's
 * control API, which this build does not have yet: they fail and say so.
 * Results go to stdout, errors to stderr, and the exit code tells which
 * (see enum exit_code).
 */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hagent/shm.h"
#include "macro.h"
#include "monitorctl-output.h"
#include "monitorctl-state.h"

#define DEFAULT_RUNTIME_DIR "/run/hagent"
#define OPEN_ATTEMPTS	    3 /* a superseded segment is left for the newer one */

/* The documented exit codes; 5 and 6 come with the control API. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_INVALID_ARGUMENT = 2,
	EXIT_NOT_FOUND = 3,
	EXIT_ACCESS_DENIED = 4,
	EXIT_RESOURCE_LOCKED = 5,
	EXIT_TIMED_OUT = 6,
	EXIT_NOT_RUNNING = 7,
};

struct args {
	const char *runtime_dir;
	bool json;
	char **cmd; /* COMMAND and its arguments, NULL-terminated */
	int n_cmd;
};

static void usage(FILE *f)
{
	fputs("Usage: monitorctl [--runtime-dir DIR] [--json] COMMAND\n"
	      "\n"
	      "Commands:\n"
	      "  status              every group and its resources\n"
	      "  show NAME           one resource or group (case-insensitive)\n"
	      "\n"
	      "Options:\n"
	      "  --runtime-dir DIR   hagentd's runtime dir (default: $HAGENT_RUNTIME_DIR,\n"
	      "                      else " DEFAULT_RUNTIME_DIR ")\n"
	      "  --json              print JSON instead of text\n"
	      "  -h, --help          print this help\n"
	      "  --version           print the version\n"
	      "\n"
	      "Exit codes: 0 success, 1 failure, 2 invalid argument, 3 not found,\n"
	      "4 access denied, 5 resource locked, 6 timed out waiting, 7 agent not running.\n",
	      f);
}

/* 0: go on; otherwise the exit code + 1 (so that EXIT_OK after --help is 1). */
static int parse_argv(int argc, char **argv, struct args *a)
{
	enum { ARG_RUNTIME_DIR = 0x100, ARG_JSON, ARG_VERSION };
	static const struct option options[] = {
		{"runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR},
		{"json", no_argument, NULL, ARG_JSON},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, ARG_VERSION},
		{},
	};
	int c;

	opterr = 0; /* our own messages, which name the tool and not its path */
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case ARG_RUNTIME_DIR:
			if (!*optarg) {
				fputs("monitorctl: --runtime-dir needs a directory\n", stderr);
				return EXIT_INVALID_ARGUMENT + 1;
			}
			a->runtime_dir = optarg;
			break;
		case ARG_JSON:
			a->json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK + 1;
		case ARG_VERSION:
			puts("monitorctl " HAGENT_VERSION);
			return EXIT_OK + 1;
		case ':':
			fprintf(stderr, "monitorctl: option '%s' needs an argument\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_INVALID_ARGUMENT + 1;
		default:
			if (optopt > 0 && optopt < 0x100) /* a short option */
				fprintf(stderr, "monitorctl: invalid option '-%c'\n", optopt);
			else
				fprintf(stderr, "monitorctl: invalid option '%s'\n",
					argv[optind - 1]);
			usage(stderr);
			return EXIT_INVALID_ARGUMENT + 1;
		}
	}
	if (!a->runtime_dir)
		a->runtime_dir = getenv("HAGENT_RUNTIME_DIR");
	if (!a->runtime_dir || !*a->runtime_dir)
		a->runtime_dir = DEFAULT_RUNTIME_DIR;
	a->cmd = argv + optind;
	a->n_cmd = argc - optind;
	return 0;
}

/* Maps the state segment, or says why not and returns the exit code (> 0). */
static int state_open(const char *dir, hagent_shm **ret)
{
	struct hagent_shm_info info;
	int r;

	for (unsigned attempt = 0;; attempt++) {
		r = hagent_shm_open(dir, ret);
		if (r < 0)
			break;
		r = hagent_shm_get_info(*ret, &info);
		if (r < 0 || !info.superseded || attempt + 1 >= OPEN_ATTEMPTS)
			break;
		*ret = hagent_shm_unref(*ret); /* the agent published a newer segment */
	}
	if (r >= 0)
		return 0;
	*ret = hagent_shm_unref(*ret);
	switch (r) {
	case -ENOENT:
	case -ENOTDIR:
	case -ECONNREFUSED:
		fprintf(stderr, "monitorctl: hagentd is not running (no state socket in %s)\n",
			dir);
		return EXIT_NOT_RUNNING;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "monitorctl: cannot read hagentd's state in %s: %s\n", dir,
			strerror(-r));
		return EXIT_ACCESS_DENIED;
	case -ECONNRESET: /* the agent's peer check said no */
		fprintf(stderr, "monitorctl: hagentd refused access to its state in %s\n", dir);
		return EXIT_ACCESS_DENIED;
	default:
		fprintf(stderr, "monitorctl: cannot read hagentd's state in %s: %s\n", dir,
			hagent_shm_strerror(r));
		return EXIT_FAIL;
	}
}

/* Says why a read of the object name (NULL: the whole table) failed; returns the exit code. */
static int read_failed(const char *name, int r)
{
	if (name)
		fprintf(stderr, "monitorctl: cannot read '%s': %s\n", name, hagent_shm_strerror(r));
	else
		fprintf(stderr, "monitorctl: cannot read the state: %s\n", hagent_shm_strerror(r));
	return r == -EACCES || r == -EPERM ? EXIT_ACCESS_DENIED : EXIT_FAIL;
}

static int output_done(int r)
{
	if (r < 0) {
		fprintf(stderr, "monitorctl: %s\n", strerror(-r));
		return EXIT_FAIL;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "monitorctl: writing the output: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int cmd_status(hagent_shm *s, const struct args *a)
{
	_cleanup_(status_view_freep) struct status_view *v = NULL;
	int r;

	r = status_view_read(s, &v);
	if (r < 0)
		return read_failed(NULL, r);
	if (a->json) {
		status_print_json(stdout, v);
		r = 0;
	} else {
		r = status_print(stdout, v);
	}
	return output_done(r);
}

static int cmd_show(hagent_shm *s, const struct args *a)
{
	_cleanup_(resource_view_freep) struct resource_view *res = NULL;
	_cleanup_(group_view_freep) struct group_view *grp = NULL;
	const char *name = a->cmd[1];
	int r;

	r = resource_view_read(s, name, &res);
	if (r < 0 && r != -ENOENT)
		return read_failed(name, r);
	r = group_view_read(s, name, &grp);
	if (r < 0 && r != -ENOENT)
		return read_failed(name, r);
	if (!res && !grp) {
		fprintf(stderr, "monitorctl: no resource or group named '%s'\n", name);
		return EXIT_NOT_FOUND;
	}
	if (a->json) {
		show_print_json(stdout, grp, res);
		r = 0;
	} else {
		r = show_print(stdout, grp, res);
	}
	return output_done(r);
}

static const struct command {
	const char *name;
	int n_args; /* after the command's name */
	const char *args;
	int (*run)(hagent_shm *s, const struct args *a);
} commands[] = {
	{"status", 0, "", cmd_status},
	{"show", 1, " NAME", cmd_show},
};

/*
 * The commands of the contract this build cannot run.  "group VERB" and
 * "resource VERB" change state through hagentd's control API; "watch" reads
 * the notification ports.  Neither exists yet.
 */
static int not_implemented(const struct args *a)
{
	if (strcmp(a->cmd[0], "watch") == 0) {
		fputs("monitorctl: 'watch' needs notification ports, which this build does not "
		      "have\n",
		      stderr);
		return EXIT_FAIL;
	}
	if (a->n_cmd < 2) {
		fprintf(stderr, "monitorctl: '%s' needs a subcommand\n", a->cmd[0]);
		return EXIT_INVALID_ARGUMENT;
	}
	fprintf(stderr,
		"monitorctl: '%s %s' needs the control API, which this build does not have\n",
		a->cmd[0], a->cmd[1]);
	return EXIT_FAIL;
}

static int dispatch(const struct args *a)
{
	_cleanup_(hagent_shm_unrefp) hagent_shm *s = NULL;
	const struct command *c = NULL;
	int r;

	if (a->n_cmd == 0) {
		fputs("monitorctl: no command given\n", stderr);
		usage(stderr);
		return EXIT_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(a->cmd[0], commands[i].name) == 0)
			c = &commands[i];
	if (!c) {
		if (strcmp(a->cmd[0], "group") == 0 || strcmp(a->cmd[0], "resource") == 0 ||
		    strcmp(a->cmd[0], "watch") == 0)
			return not_implemented(a);
		fprintf(stderr, "monitorctl: unknown command '%s' (see 'monitorctl --help')\n",
			a->cmd[0]);
		return EXIT_INVALID_ARGUMENT;
	}
	if (a->n_cmd - 1 != c->n_args) {
		fprintf(stderr, "monitorctl: usage: monitorctl %s%s\n", c->name, c->args);
		return EXIT_INVALID_ARGUMENT;
	}
	r = state_open(a->runtime_dir, &s);
	if (r > 0)
		return r;
	return c->run(s, a);
}

int main(int argc, char **argv)
{
	struct args a = {};
	int r;

	r = parse_argv(argc, argv, &a);
	if (r > 0)
		return r - 1;
	return dispatch(&a);
}
