/* Models in the local Hugging Face cache (ingot/hub.h): the cache folder the
 * environment names, repo ids, refs and snapshots; and the blobs folder of a
 * snapshot, which the safetensors loader's link rule admits. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "ingot/hub.h"
#include "io/io_internal.h"

#define REPO_ID_MAX 96

static ingot_status oom(void) {
    return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "hub: out of memory");
}

/* *out = the concatenation of a, b and c (malloc'd). */
static ingot_status join(char **out, const char *a, const char *b, const char *c) {
    return asprintf(out, "%s%s%s", a, b, c) < 0 ? (*out = NULL, oom()) : INGOT_OK;
}

/* The user's home folder: $HOME, else the password database's entry; *from
 * names which. what names the value whose '~' needs it, for the message. */
static ingot_status home_dir(char **out, const char **from, const char *what) {
    const char *home = getenv("HOME");
    if (home && *home) {
        *from = "HOME";
        return join(out, home, "", "");
    }
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) == 0 && found && found->pw_dir &&
        *found->pw_dir) {
        *from = "the password database, HOME being unset";
        return join(out, found->pw_dir, "", "");
    }
    return ingot__error(
        INGOT_ERR_NOT_FOUND,
        "hub: %s: '~' needs a home folder, but HOME is unset and user %u has none in the password database",
        what, (unsigned)getuid());
}

/* *out = value + suffix, with a leading "~" or "~/" of value replaced by the
 * home folder (as Python's expanduser does; *from then names where the home
 * came from). what as home_dir. */
static ingot_status expand(char **out, const char **from, const char *value, const char *suffix,
                           const char *what) {
    if (value[0] != '~' || (value[1] && value[1] != '/')) return join(out, value, suffix, "");
    char *home = NULL;
    ingot_status s = home_dir(&home, from, what);
    if (!s) s = join(out, home, value + 1, suffix);
    free(home);
    return s;
}

/* The cache folder and what chose it (a static string). */
static ingot_status cache_dir(char **out, const char **from) {
    static const struct {
        const char *var, *suffix;
    } vars[] = {{"HF_HUB_CACHE", ""},
                {"HUGGINGFACE_HUB_CACHE", ""},
                {"HF_HOME", "/hub"},
                {"XDG_CACHE_HOME", "/huggingface/hub"}};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i].var), *home_from;
        if (v && *v) {
            *from = vars[i].var;
            return expand(out, &home_from, v, vars[i].suffix, vars[i].var);
        }
    }
    return expand(out, from, "~", "/.cache/huggingface/hub",
                  "the default cache ~/.cache/huggingface/hub (no HF_HUB_CACHE, "
                  "HUGGINGFACE_HUB_CACHE, HF_HOME or XDG_CACHE_HOME is set)");
}

ingot_status ingot_hub_cache_dir(char **out) {
    INGOT__CHECK_NOT_NULL(out, "hub_cache_dir");
    *out = NULL;
    const char *from;
    return cache_dir(out, &from);
}

/* One part (ORG or NAME) of a repo id: [A-Za-z0-9_.-]+, neither starting nor
 * ending with '-' or '.', no "--" or "..". */
static bool id_part_ok(const char *s, size_t n) {
    if (n == 0 || strchr("-.", s[0]) || strchr("-.", s[n - 1])) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool word =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!word && c != '-' && c != '.') return false;
        if (!word && s[i - 1] == c) return false; /* i > 0: s[0] is a word character */
    }
    return true;
}

/* Whether the n bytes at id are "ORG/NAME" or "NAME". */
static bool repo_id_ok(const char *id, size_t n) {
    if (n > REPO_ID_MAX) return false;
    const char *slash = memchr(id, '/', n);
    if (!slash) return id_part_ok(id, n);
    size_t org = (size_t)(slash - id);
    return id_part_ok(id, org) && id_part_ok(slash + 1, n - org - 1);
}

/* A revision: non-empty, no leading '/', no ".." component. */
static bool revision_ok(const char *rev) {
    return rev[0] && rev[0] != '/' && !ingot__path_has_dotdot(rev);
}

static bool is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Reads the commit hash of the refs file at path into *commit (malloc'd);
 * *commit stays NULL when path is not a regular file (no such ref). */
static ingot_status read_ref(char **commit, const char *path) {
    *commit = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return INGOT_OK;
    FILE *f = fopen(path, "r");
    if (!f) return ingot__error(INGOT_ERR_IO, "hub: %s: cannot open: %s", path, strerror(errno));
    char buf[128];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool failed = ferror(f);
    fclose(f);
    if (failed) return ingot__error(INGOT_ERR_IO, "hub: %s: cannot read", path);
    while (n > 0 && buf[n - 1] && strchr(" \t\r\n", buf[n - 1]))
        n--;
    buf[n] = '\0';
    size_t hex = strspn(buf, "0123456789abcdefABCDEF");
    if (hex != n || n < 5 || n > 64)
        return ingot__error(INGOT_ERR_FORMAT, "hub: %s does not hold a commit hash", path);
    return join(commit, buf, "", "");
}

/* The snapshot folder of repo id (id_len bytes of model) at revision rev in
 * cache (chosen by from). */
static ingot_status find_snapshot(char **out, const char *model, size_t id_len, const char *rev,
                                  const char *cache, const char *from) {
    char folder[sizeof "models--" + 2 * REPO_ID_MAX] = "models--";
    size_t k = strlen(folder);
    for (size_t i = 0; i < id_len; i++) {
        if (model[i] == '/') {
            folder[k++] = '-';
            folder[k++] = '-';
        } else {
            folder[k++] = model[i];
        }
    }
    folder[k] = '\0';
    char *repo = NULL, *ref = NULL, *commit = NULL, *snap = NULL;
    ingot_status s = join(&repo, cache, "/", folder);
    if (!s && !is_dir(repo))
        s = ingot__error(
            INGOT_ERR_NOT_FOUND,
            "hub: '%s' is not a local path and not in the Hugging Face cache: no folder %s (cache from %s; ingot downloads nothing)",
            model, repo, from);
    if (!s) s = join(&ref, repo, "/refs/", rev);
    if (!s) s = read_ref(&commit, ref);
    if (!s) s = join(&snap, repo, "/snapshots/", commit ? commit : rev);
    if (!s && !is_dir(snap))
        s = commit
                ? ingot__error(INGOT_ERR_NOT_FOUND,
                               "hub: '%s': %s names commit %s, but %s is missing", model, ref,
                               commit, snap)
                : ingot__error(INGOT_ERR_NOT_FOUND,
                               "hub: '%s': the Hugging Face cache (from %s) has neither %s nor %s",
                               model, from, ref, snap);
    if (!s) {
        *out = snap;
        snap = NULL;
    }
    free(repo);
    free(ref);
    free(commit);
    free(snap);
    return s;
}

ingot_status ingot_hub_resolve(char **out, const char *model, const ingot_hub_options *opts) {
    INGOT__CHECK_NOT_NULL(out, "hub_resolve");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(model, "hub_resolve");
    if (!model[0]) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "hub_resolve: model is empty");
    const char *at = strchr(model, '@');
    size_t id_len = at ? (size_t)(at - model) : strlen(model);
    const char *rev = at ? at + 1 : "main";
    struct stat sb;
    if (stat(model, &sb) == 0 || !repo_id_ok(model, id_len) || !revision_ok(rev))
        return join(out, model, "", "");
    char *cache = NULL;
    const char *from = "ingot_hub_options.cache_dir";
    ingot_status s =
        opts && opts->cache_dir ? join(&cache, opts->cache_dir, "", "") : cache_dir(&cache, &from);
    if (!s) s = find_snapshot(out, model, id_len, rev, cache, from);
    free(cache);
    return s;
}

ingot_status ingot__hub_blobs_dir(char **out, const char *dir) {
    *out = NULL;
    const char *repo_end = NULL; /* the '/' after the last ".../models--X" before snapshots/R */
    for (const char *p = dir; (p = strstr(p, "/models--")) != NULL; p++) {
        const char *end = strchr(p + 1, '/');
        if (end && end > p + 9 && !strncmp(end, "/snapshots/", 11) && end[11] && end[11] != '/')
            repo_end = end;
    }
    if (!repo_end) return INGOT_OK;
    char *blobs = NULL;
    if (asprintf(&blobs, "%.*s/blobs", (int)(repo_end - dir), dir) < 0) return oom();
    *out = realpath(blobs, NULL);
    int err = errno;
    free(blobs);
    return !*out && err == ENOMEM ? oom() : INGOT_OK;
}
