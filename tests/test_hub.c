/* Tests of ingot_hub_cache_dir and ingot_hub_resolve (hub.h) on fake
 * Hugging Face caches laid out in a mkdtemp folder as huggingface_hub lays
 * them out (refs/main, snapshots/<commit>/ links to ../../blobs/<hash>); the
 * expected paths are spelled out here from huggingface_hub's rules. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/model_fixture.h"
#include "common/testutil.h"

#define COMMIT "0123456789abcdef0123456789abcdef01234567"
#define COMMIT_V1 "fedcba9876543210fedcba9876543210fedcba98"

static char g_dir[256], g_cache[300];

static const char *const cache_vars[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME",
                                         "XDG_CACHE_HOME"};

/* No cache variable set; HOME set to home (NULL: unset). */
static void clear_env(const char *home) {
    for (size_t i = 0; i < sizeof cache_vars / sizeof *cache_vars; i++)
        unsetenv(cache_vars[i]);
    if (home)
        setenv("HOME", home, 1);
    else
        unsetenv("HOME");
}

static void expect_cache_dir(const char *want) {
    char *got = NULL;
    TU_OK(ingot_hub_cache_dir(&got));
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void expect_resolve(const char *model, const ingot_hub_options *o, const char *want) {
    char *got = NULL;
    TU_OK(ingot_hub_resolve(&got, model, o));
    assert_non_null(got);
    if (strcmp(got, want)) fail_msg("'%s' resolved to '%s', want '%s'", model, got, want);
    free(got);
}

static void expect_miss(const char *model, ingot_status status, const char *n1, const char *n2) {
    char *got = (char *)&got;
    TU_FAILS(ingot_hub_resolve(&got, model, NULL), status, n1);
    assert_null(got);
    if (n2 && !strstr(ingot_last_error(), n2))
        fail_msg("'%s': message '%s' lacks '%s'", model, ingot_last_error(), n2);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* huggingface_hub's order: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub,
 * XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub. */
static void test_cache_dir_env(void **state) {
    (void)state;
    clear_env("/home/u");
    expect_cache_dir("/home/u/.cache/huggingface/hub");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    expect_cache_dir("/xdg/huggingface/hub");
    setenv("HF_HOME", "/hf", 1);
    expect_cache_dir("/hf/hub");
    setenv("HUGGINGFACE_HUB_CACHE", "/legacy", 1);
    expect_cache_dir("/legacy");
    setenv("HF_HUB_CACHE", "/hub", 1);
    expect_cache_dir("/hub");
    setenv("HF_HUB_CACHE", "", 1); /* empty counts as unset */
    expect_cache_dir("/legacy");
    clear_env("/home/u");
    setenv("HF_HOME", "~/hf", 1); /* expanded as expanduser does */
    expect_cache_dir("/home/u/hf/hub");
    setenv("HF_HOME", "~", 1);
    expect_cache_dir("/home/u/hub");
    setenv("HF_HOME", "~other/hf", 1); /* not expanded */
    expect_cache_dir("~other/hf/hub");
    setenv("HF_HOME", "rel/hf", 1);
    expect_cache_dir("rel/hf/hub");
    /* HOME unset: the password database's home */
    clear_env(NULL);
    struct passwd *pw = getpwuid(getuid());
    if (pw && pw->pw_dir && *pw->pw_dir) {
        char want[600];
        snprintf(want, sizeof want, "%s/.cache/huggingface/hub", pw->pw_dir);
        expect_cache_dir(want);
    } else {
        char *got = (char *)&got;
        TU_FAILS(ingot_hub_cache_dir(&got), INGOT_ERR_NOT_FOUND, "HOME is unset and user");
        assert_null(got);
    }
    TU_FAILS(ingot_hub_cache_dir(NULL), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
}

static void test_resolve(void **state) {
    (void)state;
    clear_env("/nonexistent-home");
    setenv("HF_HUB_CACHE", g_cache, 1);
    char want[600], p[700];
    snprintf(want, sizeof want, "%s/models--org--name/snapshots/" COMMIT, g_cache);
    expect_resolve("org/name", NULL, want);
    expect_resolve("org/name@main", NULL, want);
    expect_resolve("org/name@" COMMIT, NULL, want); /* a commit hash needs no ref */
    /* another ref, written with a newline */
    snprintf(p, sizeof p, "%s/models--org--name/refs/v1.0", g_cache);
    write_text(p, COMMIT_V1 "\n");
    snprintf(want, sizeof want, "%s/models--org--name/snapshots/" COMMIT_V1, g_cache);
    expect_resolve("org/name@v1.0", NULL, want);
    /* a ref with a '/' (pull requests) */
    snprintf(p, sizeof p, "%s/models--org--name/refs/pr", g_cache);
    assert_int_equal(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/models--org--name/refs/pr/1", g_cache);
    write_text(p, COMMIT_V1);
    expect_resolve("org/name@pr/1", NULL, want);
    /* an id without an organisation; names with '.', '-', '_' */
    snprintf(want, sizeof want, "%s/models--gpt2/snapshots/" COMMIT, g_cache);
    expect_resolve("gpt2", NULL, want);
    snprintf(want, sizeof want, "%s/models--Org-1--a_b.c-d/snapshots/" COMMIT, g_cache);
    expect_resolve("Org-1/a_b.c-d", NULL, want);
    /* opts->cache_dir instead of the environment */
    unsetenv("HF_HUB_CACHE");
    ingot_hub_options o = {.cache_dir = g_cache};
    snprintf(want, sizeof want, "%s/models--org--name/snapshots/" COMMIT, g_cache);
    expect_resolve("org/name", &o, want);
    /* HF_HOME/hub */
    snprintf(p, sizeof p, "%s/home/hub", g_dir);
    tu_make_hub_repo(p, "models--org--name", COMMIT, NULL, NULL, 0);
    snprintf(p, sizeof p, "%s/home", g_dir);
    setenv("HF_HOME", p, 1);
    snprintf(want, sizeof want, "%s/home/hub/models--org--name/snapshots/" COMMIT, g_dir);
    expect_resolve("org/name", NULL, want);
}

/* An existing path wins; what cannot be a repo id comes back unchanged. */
static void test_resolve_paths(void **state) {
    (void)state;
    clear_env("/nonexistent-home");
    setenv("HF_HUB_CACHE", g_cache, 1);
    char cwd[4096], p[700];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(p, sizeof p, "%s/work", g_dir);
    assert_int_equal(mkdir(p, 0777), 0);
    assert_int_equal(chdir(p), 0);
    assert_int_equal(mkdir("org", 0777), 0);
    assert_int_equal(mkdir("org/name", 0777), 0);
    expect_resolve("org/name", NULL, "org/name"); /* the local folder, not the cache's */
    write_text("gpt2", "a file");
    expect_resolve("gpt2", NULL, "gpt2");
    assert_int_equal(chdir(cwd), 0);
    static const char *const not_ids[] = {
        "/no/such/folder", "./org/name", "../name", "a/b/c",     "org--x/name",    "org/na--me",
        "org/name.",       "-org/name",  "org/.x",  "org/a..b",  "org/name@",      "org/name@../x",
        "org/name@/abs",   "org/na me",  "org/",    "/org/name", "org/name@a/../b"};
    for (size_t i = 0; i < sizeof not_ids / sizeof *not_ids; i++)
        expect_resolve(not_ids[i], NULL, not_ids[i]);
    /* at most 96 characters: 96 is an id (not cached here), 97 is not */
    char long_id[98];
    memset(long_id, 'a', 97);
    long_id[97] = '\0';
    expect_resolve(long_id, NULL, long_id);
    long_id[96] = '\0';
    expect_miss(long_id, INGOT_ERR_NOT_FOUND, "is not a local path", NULL);
    char *got = (char *)&got;
    TU_FAILS(ingot_hub_resolve(&got, "", NULL), INGOT_ERR_INVALID_ARGUMENT, "model is empty");
    assert_null(got);
    TU_FAILS(ingot_hub_resolve(&got, NULL, NULL), INGOT_ERR_INVALID_ARGUMENT, "model is NULL");
    TU_FAILS(ingot_hub_resolve(NULL, "x", NULL), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
}

/* A miss names each path looked for and the variable that chose the cache. */
static void test_resolve_misses(void **state) {
    (void)state;
    clear_env("/nonexistent-home");
    char p[700], n1[700], n2[700];
    setenv("HF_HUB_CACHE", g_cache, 1);
    snprintf(n1, sizeof n1, "no folder %s/models--org--missing (cache from HF_HUB_CACHE", g_cache);
    expect_miss("org/missing", INGOT_ERR_NOT_FOUND, n1, "'org/missing' is not a local path");
    unsetenv("HF_HUB_CACHE");
    snprintf(p, sizeof p, "%s/xdg", g_dir);
    setenv("XDG_CACHE_HOME", p, 1);
    snprintf(n1, sizeof n1, "no folder %s/xdg/huggingface/hub/models--org--name", g_dir);
    expect_miss("org/name", INGOT_ERR_NOT_FOUND, n1, "cache from XDG_CACHE_HOME");
    clear_env("/nonexistent-home");
    expect_miss("org/name", INGOT_ERR_NOT_FOUND,
                "no folder /nonexistent-home/.cache/huggingface/hub/models--org--name",
                "cache from HOME");
    setenv("HF_HUB_CACHE", g_cache, 1);
    /* no such ref and no such snapshot */
    snprintf(n1, sizeof n1, "has neither %s/models--org--name/refs/v9", g_cache);
    snprintf(n2, sizeof n2, "nor %s/models--org--name/snapshots/v9", g_cache);
    expect_miss("org/name@v9", INGOT_ERR_NOT_FOUND, n1, n2);
    /* a ref whose snapshot is missing */
    snprintf(p, sizeof p, "%s/models--org--name/refs/gone", g_cache);
    write_text(p, "abcdef1234");
    snprintf(n1, sizeof n1, "%s/models--org--name/refs/gone names commit abcdef1234", g_cache);
    snprintf(n2, sizeof n2, "but %s/models--org--name/snapshots/abcdef1234 is missing", g_cache);
    expect_miss("org/name@gone", INGOT_ERR_NOT_FOUND, n1, n2);
    /* a ref that holds no commit hash */
    snprintf(p, sizeof p, "%s/models--org--name/refs/bad", g_cache);
    write_text(p, "../../../etc");
    expect_miss("org/name@bad", INGOT_ERR_FORMAT, "refs/bad does not hold a commit hash", NULL);
}

/* A model in the cache loads through its snapshot (weights and config are
 * links to blobs) and equals the same model loaded from its folder. */
static void test_resolve_and_load(void **state) {
    (void)state;
    char models[4096], src[4200], cache[400];
    tu_models_dir(models, sizeof models);
    snprintf(src, sizeof src, "%s/qwen3_tied_f32", models);
    snprintf(cache, sizeof cache, "%s/hf/hub", g_dir);
    static const char *const files[] = {"config.json", "model.safetensors"};
    tu_make_hub_repo(cache, "models--tiny--qwen3", COMMIT, src, files, 2);
    clear_env("/nonexistent-home");
    char hf[400];
    snprintf(hf, sizeof hf, "%s/hf", g_dir);
    setenv("HF_HOME", hf, 1);
    char *dir = NULL;
    TU_OK(ingot_hub_resolve(&dir, "tiny/qwen3", NULL));
    ingot_model *m = NULL, *ref = NULL;
    TU_OK(ingot_model_load(&m, dir, NULL));
    TU_OK(ingot_model_load(&ref, src, NULL));
    ingot_model_info a, b;
    ingot_model_get_info(&a, m);
    ingot_model_get_info(&b, ref);
    assert_int_equal(a.n_params, b.n_params);
    assert_string_equal(a.model_type, "qwen3");
    int64_t shape[2] = {1, 3}, ids[3] = {1, 2, 3};
    ingot_array *in = NULL, *la = NULL, *lb = NULL;
    TU_OK(ingot_array_from_data(&in, ids, INGOT_I64, shape, 2));
    TU_OK(tu_forward(&la, m, in, NULL, false));
    TU_OK(tu_forward(&lb, ref, in, NULL, false));
    assert_true(tu_rel_err(la, lb) == 0.0);
    ingot_array_free(in);
    ingot_array_free(la);
    ingot_array_free(lb);
    ingot_model_free(m);
    ingot_model_free(ref);
    free(dir);
}

static int group_setup(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ingot_hub_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_cache, sizeof g_cache, "%s/cache", g_dir);
    /* org/name, gpt2 and Org-1/a_b.c-d at COMMIT (refs/main), and a
     * snapshot at COMMIT_V1 */
    tu_make_hub_repo(g_cache, "models--org--name", COMMIT, NULL, NULL, 0);
    char p[400];
    snprintf(p, sizeof p, "%s/models--org--name/snapshots/" COMMIT_V1, g_cache);
    if (mkdir(p, 0777) != 0) return -1;
    tu_make_hub_repo(g_cache, "models--gpt2", COMMIT, NULL, NULL, 0);
    tu_make_hub_repo(g_cache, "models--Org-1--a_b.c-d", COMMIT, NULL, NULL, 0);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    return tu_remove_tree(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_dir_env),    cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_resolve_paths),    cmocka_unit_test(test_resolve_misses),
        cmocka_unit_test(test_resolve_and_load),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
