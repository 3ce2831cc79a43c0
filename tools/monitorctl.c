/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitorctl: looks at hagent's groups and resources, and changes them.
 * The read-only commands read the state segment straight from shared
 * memory (no round trip to hagentd); the commands that change something go
 * through hagentd's control API (monitorctl-mutate.c).  This file parses
 * the command line, checks each command's arguments and options, and
 * dispatches.  Results go to stdout, errors to stderr, and the exit code
 * tells which (see enum exit_code).
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
#include "monitorctl.h"
#include "time-util.h"

#define DEFAULT_RUNTIME_DIR "/run/hagent"
#define OPEN_ATTEMPTS	    3 /* a superseded segment is left for the newer one */

static void usage(FILE *f)
{
	fputs("Usage: monitorctl [--runtime-dir DIR] [--json] COMMAND\n"
	      "\n"
	      "Commands that read the state:\n"
	      "  status                       every group and its resources\n"
	      "  show NAME                    one resource or group (case-insensitive)\n"
	      "\n"
	      "Commands that change it (through hagentd's control API):\n"
	      "  group add NAME               a new empty group; prints its id\n"
	      "  group remove NAME            an empty group\n"
	      "  group online NAME [--wait] [--timeout SEC]\n"
	      "  group offline NAME [--ignore-locked] [--param KEY=VALUE]... [--wait]\n"
	      "                [--timeout SEC]\n"
	      "                               prints the state reached, or \"pending\"; members\n"
	      "                               in dependency order\n"
	      "  group set NAME KEY=VALUE...  set group properties (FailoverThreshold,\n"
	      "                               FailoverPeriod); an empty VALUE resets the default\n"
	      "  group set-dependency NAME EXPRESSION\n"
	      "                               the groups NAME needs online first, e.g.\n"
	      "                               \"[db] and [storage]\"; \"\" clears; prints the\n"
	      "                               stored form (by group id)\n"
	      "  group rename NAME NEW-NAME\n"
	      "  resource rename NAME NEW-NAME\n"
	      "  resource add NAME --group G --type T [--set KEY=VALUE]... [--depends-on R]...\n"
	      "                               a new resource, offline; prints its id\n"
	      "  resource remove NAME [--force]\n"
	      "                               an offline or failed resource; --force: a running\n"
	      "                               one too (terminated first)\n"
	      "  resource set NAME KEY=VALUE...\n"
	      "                               set properties; an empty VALUE resets the default\n"
	      "  resource online NAME [--wait] [--timeout SEC]\n"
	      "  resource offline NAME [--wait] [--timeout SEC] [--force]\n"
	      "                               prints the state reached, or \"pending\"; --force:\n"
	      "                               terminate instead of a clean offline\n"
	      "  resource add-dependency NAME PROVIDER\n"
	      "  resource remove-dependency NAME PROVIDER\n"
	      "                               NAME needs PROVIDER online (same group)\n"
	      "\n"
	      "Following changes:\n"
	      "  watch [--filter WORDS] [NAME]... [--count N] [--reconnect-timeout SEC]\n"
	      "                               one line per change of the groups and resources\n"
	      "                               NAME (default: every object) until N lines or\n"
	      "                               SIGINT/SIGTERM; WORDS: add,delete,state,property;\n"
	      "                               follows a restarted hagentd (a reconnect line)\n"
	      "\n"
	      "Options:\n"
	      "  --runtime-dir DIR   hagentd's runtime dir (default: $HAGENT_RUNTIME_DIR,\n"
	      "                      else " DEFAULT_RUNTIME_DIR ")\n"
	      "  --json              print JSON instead of text\n"
	      "  --group G, --type T the new resource's group and resource type\n"
	      "  --set KEY=VALUE     a property of the new resource (repeatable)\n"
	      "  --depends-on R      the new resource needs R online (repeatable)\n"
	      "  --ignore-locked     group offline even if a member is in locked mode\n"
	      "  --param KEY=VALUE   a parameter for the members' offline (repeatable)\n"
	      "  --wait              wait until the online or offline has ended\n"
	      "                      (on a terminal, a group's progress is shown on stderr)\n"
	      "  --timeout SEC       with --wait: give up after SEC seconds (fractions allowed;\n"
	      "                      default: no limit)\n"
	      "  --force             see resource remove and resource offline\n"
	      "  --filter WORDS      watch: the changes to print (default all)\n"
	      "  --count N           watch: exit after N lines\n"
	      "  --reconnect-timeout SEC\n"
	      "                      watch: exit 7 when no hagentd serves again within SEC\n"
	      "                      seconds of it stopping (default 30; 0: wait forever)\n"
	      "  -h, --help          print this help\n"
	      "  --version           print the version\n"
	      "\n"
	      "Common properties (milliseconds): PendingTimeout, DeadlockTimeout,\n"
	      "LooksAlivePollInterval, IsAlivePollInterval, RestartAction, RestartThreshold,\n"
	      "RestartPeriod, RestartDelay, RetryPeriodOnFailure; other keys are the monitor's.\n"
	      "\n"
	      "Exit codes: 0 success, 1 failure, 2 invalid argument, 3 not found,\n"
	      "4 access denied, 5 resource locked, 6 timed out waiting, 7 agent not running.\n",
	      f);
}

/* KEY=VALUE with a non-empty key; the key ends at the first '='. */
static bool property_valid(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq && eq != kv;
}

/* what: "property" or "parameter". */
static int property_check(const char *kv, const char *what)
{
	if (property_valid(kv))
		return 0;
	fprintf(stderr, "monitorctl: invalid %s '%s': want KEY=VALUE with a non-empty KEY\n", what,
		kv);
	return -EINVAL;
}

/*
 * A positive number of seconds, decimal digits with an optional fraction
 * ("2", "0.3", "1.25"), into nanoseconds; digits past the nanosecond are
 * ignored.
 */
static int timeout_parse(const char *s, uint64_t *ret_ns)
{
	uint64_t sec = 0, ns = 0, scale = NSEC_PER_SEC;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		sec = sec * 10 + (uint64_t) (*p - '0');
		if (sec > UINT64_MAX / NSEC_PER_SEC - 1)
			return -ERANGE;
	}
	if (p == s && *p != '.')
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9') && p - 1 == s)
			return -EINVAL; /* "." alone */
		for (; *p >= '0' && *p <= '9'; p++)
			if (scale > 1) {
				scale /= 10;
				ns += (uint64_t) (*p - '0') * scale;
			}
	}
	if (*p)
		return -EINVAL;
	if (sec == 0 && ns == 0)
		return -ERANGE;
	*ret_ns = sec * NSEC_PER_SEC + ns;
	return 0;
}

/* A positive decimal count (watch --count). */
static int count_parse(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t) (*p - '0');
	}
	if (v == 0)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* Appends the argument of a repeatable option; 0 or the exit code + 1 (as parse_argv()). */
static int list_add(struct arg_list *l, char *arg)
{
	char **n = realloc(l->items, (l->n + 1) * sizeof(*n));

	if (!n) {
		fputs("monitorctl: out of memory\n", stderr);
		return EXIT_FAIL + 1;
	}
	l->items = n;
	l->items[l->n++] = arg;
	return 0;
}

/* One command-specific option (OPT_*); 0 or the exit code + 1. */
static int option_take(struct args *a, unsigned opt, char *arg)
{
	int r;

	a->given |= opt;
	switch (opt) {
	case OPT_GROUP:
		a->group = arg;
		return 0;
	case OPT_TYPE:
		a->type = arg;
		return 0;
	case OPT_SET:
		if (property_check(arg, "property") < 0)
			return EXIT_INVALID_ARGUMENT + 1;
		return list_add(&a->sets, arg);
	case OPT_PARAM:
		if (property_check(arg, "parameter") < 0)
			return EXIT_INVALID_ARGUMENT + 1;
		return list_add(&a->params, arg);
	case OPT_DEPENDS_ON:
		return list_add(&a->depends_on, arg);
	case OPT_TIMEOUT:
		if (timeout_parse(arg, &a->timeout_ns) < 0) {
			fprintf(stderr,
				"monitorctl: invalid --timeout '%s': want a positive number of "
				"seconds, e.g. 5 or 0.5\n",
				arg);
			return EXIT_INVALID_ARGUMENT + 1;
		}
		return 0;
	case OPT_FILTER:
		a->filter = arg;
		return 0;
	case OPT_RECONNECT_TIMEOUT:
		r = timeout_parse(arg, &a->reconnect_timeout_ns);
		if (r == -ERANGE && arg[strspn(arg, "0.")] == '\0') {
			a->reconnect_timeout_ns = 0; /* "0": wait forever */
			r = 0;
		}
		if (r < 0) {
			fprintf(stderr,
				"monitorctl: invalid --reconnect-timeout '%s': want a number of "
				"seconds, e.g. 30 or 0.5, or 0 for no limit\n",
				arg);
			return EXIT_INVALID_ARGUMENT + 1;
		}
		return 0;
	case OPT_COUNT:
		if (count_parse(arg, &a->count) < 0) {
			fprintf(stderr,
				"monitorctl: invalid --count '%s': want a positive number of "
				"lines\n",
				arg);
			return EXIT_INVALID_ARGUMENT + 1;
		}
		return 0;
	default: /* OPT_WAIT, OPT_FORCE, OPT_IGNORE_LOCKED: flags */
		return 0;
	}
}

/* 0: go on; otherwise the exit code + 1 (so that EXIT_OK after --help is 1). */
static int parse_argv(int argc, char **argv, struct args *a)
{
	enum { ARG_RUNTIME_DIR = 0x100, ARG_JSON, ARG_VERSION, ARG_SPECIFIC = 0x1000 };
	static const struct option options[] = {
		{"runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR},
		{"json", no_argument, NULL, ARG_JSON},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, ARG_VERSION},
		{"group", required_argument, NULL, ARG_SPECIFIC | OPT_GROUP},
		{"type", required_argument, NULL, ARG_SPECIFIC | OPT_TYPE},
		{"set", required_argument, NULL, ARG_SPECIFIC | OPT_SET},
		{"wait", no_argument, NULL, ARG_SPECIFIC | OPT_WAIT},
		{"timeout", required_argument, NULL, ARG_SPECIFIC | OPT_TIMEOUT},
		{"force", no_argument, NULL, ARG_SPECIFIC | OPT_FORCE},
		{"depends-on", required_argument, NULL, ARG_SPECIFIC | OPT_DEPENDS_ON},
		{"ignore-locked", no_argument, NULL, ARG_SPECIFIC | OPT_IGNORE_LOCKED},
		{"param", required_argument, NULL, ARG_SPECIFIC | OPT_PARAM},
		{"filter", required_argument, NULL, ARG_SPECIFIC | OPT_FILTER},
		{"count", required_argument, NULL, ARG_SPECIFIC | OPT_COUNT},
		{"reconnect-timeout", required_argument, NULL,
		 ARG_SPECIFIC | OPT_RECONNECT_TIMEOUT},
		{},
	};
	int c, r;

	opterr = 0; /* our own messages, which name the tool and not its path */
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c & ARG_SPECIFIC) {
			r = option_take(a, (unsigned) c & ~(unsigned) ARG_SPECIFIC, optarg);
			if (r > 0)
				return r;
			continue;
		}
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
int state_open(const char *dir, hagent_shm **ret)
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

int output_flush(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "monitorctl: writing the output: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int output_done(int r)
{
	if (r < 0) {
		fprintf(stderr, "monitorctl: %s\n", strerror(-r));
		return EXIT_FAIL;
	}
	return output_flush();
}

static int cmd_status(const struct args *a)
{
	_cleanup_(hagent_shm_unrefp) hagent_shm *s = NULL;
	_cleanup_(status_view_freep) struct status_view *v = NULL;
	int r;

	r = state_open(a->runtime_dir, &s);
	if (r > 0)
		return r;
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

static int cmd_show(const struct args *a)
{
	_cleanup_(hagent_shm_unrefp) hagent_shm *s = NULL;
	_cleanup_(resource_view_freep) struct resource_view *res = NULL;
	_cleanup_(group_view_freep) struct group_view *grp = NULL;
	const char *name = a->cmd[1];
	int r;

	r = state_open(a->runtime_dir, &s);
	if (r > 0)
		return r;
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

#define ARGS_ANY   (-1)
#define ARGS_NAMES (-2) /* any number of NAMEs, none included */

static const struct command {
	const char *verb;
	const char *sub;      /* the second word ("add"), or NULL */
	int n_args;	      /* after the command's words; ARGS_ANY: NAME and at least one more */
	unsigned options;     /* OPT_* it takes */
	unsigned required;    /* OPT_* it needs */
	const char *synopsis; /* after "monitorctl VERB[ SUB]" */
	int (*run)(const struct args *a);
} commands[] = {
	{"status", NULL, 0, 0, 0, "", cmd_status},
	{"show", NULL, 1, 0, 0, " NAME", cmd_show},
	{"group", "add", 1, 0, 0, " NAME", cmd_group_add},
	{"group", "remove", 1, 0, 0, " NAME", cmd_group_remove},
	{"group", "online", 1, OPT_WAIT | OPT_TIMEOUT, 0, " NAME [--wait] [--timeout SEC]",
	 cmd_group_online},
	{"group", "offline", 1, OPT_IGNORE_LOCKED | OPT_PARAM | OPT_WAIT | OPT_TIMEOUT, 0,
	 " NAME [--ignore-locked] [--param KEY=VALUE]... [--wait] [--timeout SEC]",
	 cmd_group_offline},
	{"group", "set", ARGS_ANY, 0, 0, " NAME KEY=VALUE...", cmd_group_set},
	{"group", "set-dependency", 2, 0, 0, " NAME EXPRESSION", cmd_group_set_dependency},
	{"group", "rename", 2, 0, 0, " NAME NEW-NAME", cmd_group_rename},
	{"resource", "add", 1, OPT_GROUP | OPT_TYPE | OPT_SET | OPT_DEPENDS_ON,
	 OPT_GROUP | OPT_TYPE,
	 " NAME --group GROUP --type TYPE [--set KEY=VALUE]... [--depends-on RESOURCE]...",
	 cmd_resource_add},
	{"resource", "remove", 1, OPT_FORCE, 0, " NAME [--force]", cmd_resource_remove},
	{"resource", "set", ARGS_ANY, 0, 0, " NAME KEY=VALUE...", cmd_resource_set},
	{"resource", "online", 1, OPT_WAIT | OPT_TIMEOUT, 0, " NAME [--wait] [--timeout SEC]",
	 cmd_resource_online},
	{"resource", "offline", 1, OPT_WAIT | OPT_TIMEOUT | OPT_FORCE, 0,
	 " NAME [--wait] [--timeout SEC] [--force]", cmd_resource_offline},
	{"resource", "rename", 2, 0, 0, " NAME NEW-NAME", cmd_resource_rename},
	{"resource", "add-dependency", 2, 0, 0, " NAME PROVIDER", cmd_resource_add_dependency},
	{"resource", "remove-dependency", 2, 0, 0, " NAME PROVIDER",
	 cmd_resource_remove_dependency},
	{"watch", NULL, ARGS_NAMES, OPT_FILTER | OPT_COUNT | OPT_RECONNECT_TIMEOUT, 0,
	 " [--filter add,delete,state,property] [NAME]... [--count N] [--reconnect-timeout SEC]",
	 cmd_watch},
};

static const char *option_name(unsigned opt)
{
	switch (opt) {
	case OPT_GROUP:
		return "--group";
	case OPT_TYPE:
		return "--type";
	case OPT_SET:
		return "--set";
	case OPT_WAIT:
		return "--wait";
	case OPT_TIMEOUT:
		return "--timeout";
	case OPT_FORCE:
		return "--force";
	case OPT_DEPENDS_ON:
		return "--depends-on";
	case OPT_IGNORE_LOCKED:
		return "--ignore-locked";
	case OPT_FILTER:
		return "--filter";
	case OPT_COUNT:
		return "--count";
	case OPT_RECONNECT_TIMEOUT:
		return "--reconnect-timeout";
	default:
		return "--param";
	}
}

/* The command a->cmd names, or NULL after saying why there is none. */
static const struct command *command_find(const struct args *a)
{
	bool verb_known = false;

	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		const struct command *c = &commands[i];

		if (strcmp(a->cmd[0], c->verb) != 0)
			continue;
		verb_known = true;
		if (!c->sub || (a->n_cmd >= 2 && strcmp(a->cmd[1], c->sub) == 0))
			return c;
	}
	if (!verb_known)
		fprintf(stderr, "monitorctl: unknown command '%s' (see 'monitorctl --help')\n",
			a->cmd[0]);
	else if (a->n_cmd < 2)
		fprintf(stderr, "monitorctl: '%s' needs a subcommand (see 'monitorctl --help')\n",
			a->cmd[0]);
	else
		fprintf(stderr, "monitorctl: unknown command '%s %s' (see 'monitorctl --help')\n",
			a->cmd[0], a->cmd[1]);
	return NULL;
}

static int usage_error(const struct command *c)
{
	fprintf(stderr, "monitorctl: usage: monitorctl %s%s%s%s\n", c->verb, c->sub ? " " : "",
		c->sub ? c->sub : "", c->synopsis);
	return EXIT_INVALID_ARGUMENT;
}

/* The arguments and options of c as given in a: EXIT_OK, or a usage error (said). */
static int command_check(const struct command *c, const struct args *a)
{
	int words = c->sub ? 2 : 1, n = a->n_cmd - words;
	unsigned extra = a->given & ~c->options, missing = c->required & ~a->given;

	if (c->n_args == ARGS_ANY ? n < 2 : c->n_args != ARGS_NAMES && n != c->n_args)
		return usage_error(c);
	if (extra) {
		fprintf(stderr, "monitorctl: option '%s' does not apply to '%s%s%s'\n",
			option_name(extra & -extra), c->verb, c->sub ? " " : "",
			c->sub ? c->sub : "");
		return usage_error(c);
	}
	if (missing) {
		fprintf(stderr, "monitorctl: '%s %s' needs %s\n", c->verb, c->sub,
			option_name(missing & -missing));
		return usage_error(c);
	}
	if ((a->given & OPT_TIMEOUT) && !(a->given & OPT_WAIT)) {
		fputs("monitorctl: --timeout needs --wait\n", stderr);
		return usage_error(c);
	}
	for (int i = words + 1; c->n_args == ARGS_ANY && i < a->n_cmd; i++)
		if (property_check(a->cmd[i], "property") < 0)
			return EXIT_INVALID_ARGUMENT;
	return EXIT_OK;
}

static int dispatch(const struct args *a)
{
	const struct command *c;
	int r;

	if (a->n_cmd == 0) {
		fputs("monitorctl: no command given\n", stderr);
		usage(stderr);
		return EXIT_INVALID_ARGUMENT;
	}
	c = command_find(a);
	if (!c)
		return EXIT_INVALID_ARGUMENT;
	r = command_check(c, a);
	if (r != EXIT_OK)
		return r;
	return c->run(a);
}

int main(int argc, char **argv)
{
	struct args a = {};
	int r;

	r = parse_argv(argc, argv, &a);
	if (r == 0)
		r = dispatch(&a) + 1;
	free(a.sets.items);
	free(a.depends_on.items);
	free(a.params.items);
	return r - 1;
}
