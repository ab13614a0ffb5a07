/* main.c — the hyc command line: a table of subcommands, each with its own
 * --help.  Exit codes: 0 ok, 1 bad input, 2 bad usage, 70 internal error. */
#include "driver.h"
#include "../passes/passes.h"
#include "../codegen/codegen.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const Command COMMANDS[] = {
#define X(name, fn, summary, usage) {#name, fn, summary, usage},
    HYC_COMMANDS(X)
#undef X
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof *COMMANDS };

static void print_help(FILE *out)
{
    fprintf(out,
            "hyc %s — a compiler for hybrid attention + state-space language models\n\n"
            "usage: hyc COMMAND [ARGS...]\n\ncommands:\n",
            HYC_VERSION);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\n'hyc COMMAND --help' describes one command.  Exit status: 0 success, "
                 "1 bad input, 2 bad usage, 70 internal error.\n");
}

const Command *cli_find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
    return NULL;
}

void cli_usage_error(const Command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hyc %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", cmd->usage);
    fprintf(stderr, "'hyc %s --help' for more.\n", cmd->name);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return HYC_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            const Command *c = cli_find_command(argv[2]);
            if (!c) {
                fprintf(stderr, "hyc: unknown command '%s'\n", argv[2]);
                return HYC_EXIT_USAGE;
            }
            char *sub[] = {argv[2], "--help", NULL};
            return c->run(2, sub);
        }
        print_help(stdout);
        return HYC_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("hyc %s\n", HYC_VERSION);
        return HYC_EXIT_OK;
    }
    const Command *cmd = cli_find_command(name);
    if (!cmd) {
        const char *names[N_COMMANDS];
        for (int i = 0; i < N_COMMANDS; i++) names[i] = COMMANDS[i].name;
        const char *s = suggest_word(name, names, N_COMMANDS);
        fprintf(stderr, "hyc: unknown command '%s'", name);
        if (s) fprintf(stderr, "; did you mean '%s'?", s);
        fprintf(stderr, "\n'hyc help' lists the commands.\n");
        return HYC_EXIT_USAGE;
    }
    int chunk;
    if (!cg_ssd_chunk_env(&chunk)) { /* a test knob (codegen.h): checked once, here */
        fprintf(stderr, "hyc: error: HYC_SSD_CHUNK='%s' is not a chunk length (1 to %d, or 0: the recurrence)\n",
                getenv("HYC_SSD_CHUNK"), CG_SSD_CHUNK_MAX);
        return HYC_EXIT_USER;
    }
    return cmd->run(argc - 1, argv + 1);
}

/* Every name in LIST must be a pass; else a usage error naming it, with a
 * suggestion among the passes of the fullest pipeline (-O3). */
bool cli_check_passes(const Command *self, const char *option, const char *list)
{
    for (const char *p = list; p;) {
        size_t len = strcspn(p, ",");
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        if (!pass_lookup(name)) {
            int n;
            const char *const *known = pass_pipeline(3, &n);
            const char *s = suggest_word(name, known, n);
            if (s)
                cli_usage_error(self, "%s: unknown pass '%s'; did you mean '%s'?", option, name, s);
            else
                cli_usage_error(self, "%s: unknown pass '%s' (hyc ir --list-passes lists them)", option, name);
            return false;
        }
        p = p[len] ? p + len + 1 : NULL;
    }
    return true;
}

const char *cli_opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=' && name[1] == '-') return a + n + 1; /* "-p=512" is no "-p 512" */
    if (a[n] != 0) return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

void cli_mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}
