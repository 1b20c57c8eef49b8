/*
 * spawnloop: the floor for "spawn + exec + reap" on this machine.
 *
 * Usage: spawnloop [--logs DIR] [--numbered] N J [PROGRAM]
 *
 * Starts PROGRAM (default /bin/true) N times with posix_spawn, keeping at
 * most J children alive: once J are running it waits for any one of them
 * before starting the next. Children inherit stdin/stdout/stderr and the
 * environment. With --logs, each child's stdout and stderr go instead to a
 * log file of its own, DIR/<run>/<i>.log, created by the loop just before
 * the spawn (<run> is the first number whose directory does not exist yet,
 * so earlier runs' logs are kept, as a job runner keeps them). With
 * --numbered, child i gets one argument, its number from 1: what
 * `xargs -n1 true`, `parallel true` and `maestro map true` run (and not as
 * cheap as `true` alone: coreutils' true with one argument sets up its
 * locale, to check for --help). Exits 0 only if every child exited 0; otherwise prints how
 * many failed and exits 1. No shell, no pipes, no bookkeeping beyond a
 * counter, so any real job runner should be slower than this.
 *
 * Build: cc -O2 -o spawnloop spawnloop.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static long parse_count(const char *s, const char *what) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1) {
        fprintf(stderr, "spawnloop: %s must be a positive integer, got '%s'\n", what, s);
        exit(2);
    }
    return v;
}

/* Wait for one child; count it as failed unless it exited 0. */
static int reap_one(long *failed) {
    int status;
    pid_t pid;
    do {
        pid = waitpid(-1, &status, 0);
    } while (pid < 0 && errno == EINTR);
    if (pid < 0) {
        perror("spawnloop: waitpid");
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        (*failed)++;
    return 0;
}

/* Makes DIR/<first free number>/ and writes its path into run_dir. */
static int make_run_dir(const char *dir, char *run_dir, size_t size) {
    mkdir(dir, 0777);
    for (long run = 1; run < 1000000; run++) {
        snprintf(run_dir, size, "%s/%ld", dir, run);
        if (mkdir(run_dir, 0777) == 0)
            return 0;
        if (errno != EEXIST) {
            perror("spawnloop: mkdir");
            return -1;
        }
    }
    return -1;
}

/* Spawns prog with stdout and stderr on a new log file run_dir/<i>.log. */
static int spawn_logged(pid_t *pid, const char *prog, char **child_argv, const char *run_dir,
                        long i) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%ld.log", run_dir, i) >= (int)sizeof path)
        return ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return errno;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fd, 1);
    posix_spawn_file_actions_adddup2(&actions, fd, 2);
    int rc = posix_spawn(pid, prog, &actions, NULL, child_argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fd);
    return rc;
}

int main(int argc, char **argv) {
    const char *logs = NULL;
    int numbered = 0;
    if (argc > 2 && strcmp(argv[1], "--logs") == 0) {
        logs = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc > 1 && strcmp(argv[1], "--numbered") == 0) {
        numbered = 1;
        argv += 1;
        argc -= 1;
    }
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: spawnloop [--logs DIR] [--numbered] N J [PROGRAM]\n");
        return 2;
    }
    char run_dir[4096];
    if (logs && make_run_dir(logs, run_dir, sizeof run_dir) < 0)
        return 1;
    long n = parse_count(argv[1], "N");
    long j = parse_count(argv[2], "J");
    const char *prog = argc == 4 ? argv[3] : "/bin/true";
    const char *base = strrchr(prog, '/');
    char number[32] = "";
    char *child_argv[] = {(char *)(base ? base + 1 : prog), numbered ? number : NULL, NULL};

    long running = 0, failed = 0;
    for (long i = 0; i < n; i++) {
        if (running == j) {
            if (reap_one(&failed) < 0)
                return 1;
            running--;
        }
        snprintf(number, sizeof number, "%ld", i + 1);
        pid_t pid;
        int rc = logs ? spawn_logged(&pid, prog, child_argv, run_dir, i)
                      : posix_spawn(&pid, prog, NULL, NULL, child_argv, environ);
        if (rc != 0) {
            fprintf(stderr, "spawnloop: posix_spawn %s: %s\n", prog, strerror(rc));
            while (running > 0 && reap_one(&failed) == 0)
                running--;
            return 1;
        }
        running++;
    }
    while (running > 0) {
        if (reap_one(&failed) < 0)
            return 1;
        running--;
    }
    if (failed > 0) {
        fprintf(stderr, "spawnloop: %ld of %ld children failed\n", failed, n);
        return 1;
    }
    return 0;
}
