/* Shared test helpers; see testutil.h. */
#include "common/testutil.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tu_check_ok(ingot_status st, const char *expr, const char *file, int line) {
    if (st == INGOT_OK) return;
    print_error("%s:%d: %s returned %s: %s\n", file, line, expr, ingot_status_str(st),
                ingot_last_error());
    fail();
}

void tu_check_fails(ingot_status st, ingot_status want, const char *needle, const char *expr,
                    const char *file, int line) {
    const char *msg = ingot_last_error();
    if (st == want && msg[0] && (!needle || strstr(msg, needle))) return;
    print_error("%s:%d: %s returned %s (\"%s\"), expected %s with a message containing \"%s\"\n",
                file, line, expr, ingot_status_str(st), msg, ingot_status_str(want),
                needle ? needle : "");
    fail();
}

static int64_t count(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

ingot_array *tu_from_f64(const double *values, ingot_dtype dtype, const int64_t *shape, int ndim) {
    int64_t n = count(shape, ndim);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    assert_non_null(f);
    for (int64_t i = 0; i < n; i++) f[i] = (float)values[i];
    ingot_array *a32 = NULL, *a = NULL;
    TU_OK(ingot_array_from_data(&a32, f, INGOT_F32, shape, ndim));
    free(f);
    if (dtype == INGOT_F32) return a32;
    /* Integers are exact in f32 below 2^24, which is all the tests use. */
    TU_OK(ingot_astype(&a, a32, dtype));
    ingot_array_free(a32);
    return a;
}

ingot_array *tu_from_f32(const float *values, const int64_t *shape, int ndim) {
    ingot_array *a = NULL;
    TU_OK(ingot_array_from_data(&a, values, INGOT_F32, shape, ndim));
    return a;
}

/* splitmix64: a private generator, unrelated to ingot's Philox. */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double *tu_random_values(int64_t n, uint64_t seed, double lo, double hi) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    uint64_t state = seed;
    for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * ((double)(next_u64(&state) >> 11) * 0x1p-53);
    return v;
}

ingot_array *tu_random(ingot_dtype dtype, const int64_t *shape, int ndim, uint64_t seed, double lo,
                       double hi) {
    int64_t n = count(shape, ndim);
    double *v = tu_random_values(n, seed, lo, hi);
    if (!ingot_dtype_is_float(dtype))
        for (int64_t i = 0; i < n; i++) v[i] = floor(v[i]);
    ingot_array *a = tu_from_f64(v, dtype, shape, ndim);
    free(v);
    return a;
}

/* A contiguous copy of a made through host memory (no ops under test). */
static ingot_array *host_copy(const ingot_array *a) {
    size_t bytes = ingot_array_nbytes(a);
    void *buf = malloc(bytes ? bytes : 1);
    assert_non_null(buf);
    TU_OK(ingot_array_to_host(buf, bytes, ingot_array_dtype(a), a));
    ingot_array *c = NULL;
    TU_OK(ingot_array_from_data(&c, buf, ingot_array_dtype(a), ingot_array_shape(a),
                                ingot_array_ndim(a)));
    free(buf);
    return c;
}

ingot_array *tu_noncontiguous(const ingot_array *a) {
    int nd = ingot_array_ndim(a);
    const int64_t *shape = ingot_array_shape(a);
    ingot_array *v = NULL;
    if (nd >= 2) {
        /* Store a with its last two axes swapped, then swap back as a view. */
        ingot_array *t = NULL, *stored;
        TU_OK(ingot_swapaxes(&t, a, -1, -2));
        stored = host_copy(t);
        TU_OK(ingot_swapaxes(&v, stored, -1, -2));
        ingot_array_free(t);
        ingot_array_free(stored);
        return v;
    }
    /* 0-D or 1-D: every other element of a buffer twice as long. */
    int64_t n = ingot_array_size(a), big[1] = {2 * n};
    size_t es = ingot_dtype_size(ingot_array_dtype(a));
    char *host = calloc((size_t)(2 * n + 1), es), *src = malloc((size_t)(n + 1) * es);
    assert_true(host && src);
    TU_OK(ingot_array_to_host(src, (size_t)n * es, ingot_array_dtype(a), a));
    for (int64_t i = 0; i < n; i++) memcpy(host + 2 * i * (int64_t)es, src + i * (int64_t)es, es);
    ingot_array *wide = NULL, *strided = NULL;
    TU_OK(ingot_array_from_data(&wide, host, ingot_array_dtype(a), big, 1));
    int64_t start[1] = {0}, stop[1] = {2 * n}, step[1] = {2};
    TU_OK(ingot_slice(&strided, wide, start, stop, step));
    TU_OK(ingot_reshape(&v, strided, shape, nd));
    free(host);
    free(src);
    ingot_array_free(wide);
    ingot_array_free(strided);
    return v;
}

ingot_array *tu_noncontiguous_take(ingot_array *a) {
    ingot_array *t = tu_noncontiguous(a);
    ingot_array_free(a);
    return t;
}

double *tu_values(const ingot_array *a) {
    int64_t n = ingot_array_size(a);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    assert_true(f && d);
    if (ingot_array_dtype(a) == INGOT_I64 || ingot_array_dtype(a) == INGOT_U32 ||
        ingot_array_dtype(a) == INGOT_I32) {
        int64_t *i64 = malloc((size_t)(n ? n : 1) * sizeof *i64);
        assert_non_null(i64);
        TU_OK(ingot_array_to_host(i64, (size_t)n * sizeof *i64, INGOT_I64, a));
        for (int64_t i = 0; i < n; i++) d[i] = (double)i64[i];
        free(i64);
    } else {
        TU_OK(ingot_array_to_host(f, (size_t)n * sizeof *f, INGOT_F32, a));
        for (int64_t i = 0; i < n; i++) d[i] = f[i];
    }
    free(f);
    return d;
}

void tu_assert_shape(const ingot_array *a, ingot_dtype dtype, const int64_t *shape, int ndim) {
    assert_non_null(a);
    if (ingot_array_dtype(a) != dtype) {
        print_error("dtype %s, expected %s\n", ingot_dtype_name(ingot_array_dtype(a)),
                    ingot_dtype_name(dtype));
        fail();
    }
    assert_int_equal(ingot_array_ndim(a), ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(ingot_array_shape(a)[i], shape[i]);
}

void tu_assert_close(const ingot_array *actual, const double *expected, int64_t n, double rtol,
                     double atol, const char *what) {
    assert_int_equal(ingot_array_size(actual), n);
    double *got = tu_values(actual);
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], e = expected[i];
        bool ok = (isnan(g) && isnan(e)) || (isinf(e) && g == e) ||
                  (isfinite(e) && fabs(g - e) <= atol + rtol * fabs(e));
        if (!ok) {
            print_error("%s: element %lld is %.9g, expected %.9g (rtol %g, atol %g)\n", what,
                        (long long)i, g, e, rtol, atol);
            free(got);
            fail();
        }
    }
    free(got);
}

/* ---- gradient checks ---- */

typedef struct unary_ctx {
    tu_unary_op op;
} unary_ctx;

static ingot_status unary_fn(ingot_array **outputs, size_t n_outputs, ingot_array *const *inputs,
                             size_t n_inputs, void *user) {
    const unary_ctx *ctx = user;
    return ctx->op(&outputs[0], inputs[0]);
}

void tu_gradcheck_unary(tu_unary_op op, const ingot_array *x, double eps, double rtol, double atol,
                        const char *what) {
    unary_ctx ctx = {op};
    ingot_array *in[1] = {(ingot_array *)x};
    tu_gradcheck(unary_fn, &ctx, in, 1, NULL, eps, rtol, atol, what);
}

/* L = sum(u * fn(inputs)) in double. */
static double weighted_output(ingot_fn fn, void *user, ingot_array *const *inputs, size_t n,
                              const double *u, int64_t nu) {
    ingot_array *out[1] = {NULL};
    TU_OK(fn(out, 1, inputs, n, user));
    assert_int_equal(ingot_array_size(out[0]), nu);
    double *y = tu_values(out[0]);
    double l = 0;
    for (int64_t i = 0; i < nu; i++) l += u[i] * y[i];
    free(y);
    ingot_array_free(out[0]);
    return l;
}

/* A copy of a with element j moved by delta; *moved_to receives the element's
 * new value as stored (after rounding to a's dtype). */
static ingot_array *perturbed(const ingot_array *a, int64_t j, double delta, double *moved_to) {
    int64_t n = ingot_array_size(a);
    float *f = malloc((size_t)n * sizeof *f);
    assert_non_null(f);
    TU_OK(ingot_array_to_host(f, (size_t)n * sizeof *f, INGOT_F32, a));
    f[j] = (float)((double)f[j] + delta);
    ingot_array *p = NULL, *c = NULL;
    TU_OK(ingot_array_from_data(&c, f, INGOT_F32, ingot_array_shape(a), ingot_array_ndim(a)));
    TU_OK(ingot_astype(&p, c, ingot_array_dtype(a)));
    double *stored = tu_values(p);
    *moved_to = stored[j];
    free(stored);
    ingot_array_free(c);
    free(f);
    return p;
}

void tu_gradcheck(ingot_fn fn, void *user, ingot_array *const *inputs, size_t n, const bool *mask,
                  double eps, double rtol, double atol, const char *what) {
    /* The output's shape, for the random cotangent u. */
    ingot_array *probe[1] = {NULL};
    TU_OK(fn(probe, 1, inputs, n, user));
    int64_t nu = ingot_array_size(probe[0]);
    double *u = tu_random_values(nu, 12345, -1.0, 1.0);
    for (int64_t i = 0; i < nu; i++) u[i] = (float)u[i]; /* as the f32 cotangent holds it */
    ingot_array *cot = tu_from_f64(u, INGOT_F32, ingot_array_shape(probe[0]), ingot_array_ndim(probe[0]));
    ingot_array_free(probe[0]);

    ingot_array **grads = calloc(n, sizeof *grads);
    ingot_array *out[1] = {NULL};
    assert_non_null(grads);
    TU_OK(ingot_vjp(out, grads, fn, user, inputs, n, &cot, 1));
    ingot_array_free(out[0]);

    ingot_array **work = malloc(n * sizeof *work);
    assert_non_null(work);
    memcpy(work, inputs, n * sizeof *work);
    for (size_t i = 0; i < n; i++) {
        if ((mask && !mask[i]) || !ingot_dtype_is_float(ingot_array_dtype(inputs[i]))) continue;
        double *ana = tu_values(grads[i]);
        int64_t size = ingot_array_size(inputs[i]);
        int64_t stride = size > 64 ? (size + 63) / 64 : 1;
        for (int64_t j = 0; j < size; j += stride) {
            double hi, lo;
            ingot_array *plus = perturbed(inputs[i], j, eps, &hi);
            ingot_array *minus = perturbed(inputs[i], j, -eps, &lo);
            work[i] = plus;
            double lp = weighted_output(fn, user, work, n, u, nu);
            work[i] = minus;
            double lm = weighted_output(fn, user, work, n, u, nu);
            work[i] = inputs[i];
            ingot_array_free(plus);
            ingot_array_free(minus);
            double num = (lp - lm) / (hi - lo);
            if (!(fabs(num - ana[j]) <= atol + rtol * fabs(num))) {
                print_error("%s: d/d input %zu element %lld: analytic %.7g, numeric %.7g "
                            "(eps %g, rtol %g, atol %g)\n",
                            what, i, (long long)j, ana[j], num, eps, rtol, atol);
                free(ana);
                fail();
            }
        }
        free(ana);
    }
    for (size_t i = 0; i < n; i++) ingot_array_free(grads[i]);
    free(grads);
    free(work);
    free(u);
    ingot_array_free(cot);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int tu_remove_tree(const char *dir) {
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void tu_copy_file(const char *src, const char *dst) {
    unlink(dst); /* a new file: mappings of an old one keep their bytes */
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) fail_msg("cannot copy %s to %s", src, dst);
    char buf[1 << 16];
    for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    assert_false(ferror(in));
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* mkdir -p: path and its missing parents (mode 0777). */
static void make_dirs(const char *path) {
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash) *slash = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) fail_msg("mkdir %s: %s", p, strerror(errno));
        if (!slash) return;
        *slash = '/';
    }
}

void tu_make_hub_repo(const char *cache, const char *repo, const char *commit, const char *src,
                      const char *const *files, size_t n) {
    char dir[4096], path[4600], target[600];
    snprintf(dir, sizeof dir, "%s/%s/snapshots/%s", cache, repo, commit);
    make_dirs(dir);
    snprintf(dir, sizeof dir, "%s/%s/blobs", cache, repo);
    make_dirs(dir);
    for (size_t i = 0; i < n; i++) {
        char blob[80]; /* a 64-digit hex name, as the cache's sha256 names */
        snprintf(blob, sizeof blob, "%064zx", i + 1);
        snprintf(path, sizeof path, "%s/%s", src, files[i]);
        char dst[4700];
        snprintf(dst, sizeof dst, "%s/%s", dir, blob);
        tu_copy_file(path, dst);
        snprintf(target, sizeof target, "../../blobs/%s", blob);
        snprintf(path, sizeof path, "%s/%s/snapshots/%s/%s", cache, repo, commit, files[i]);
        if (symlink(target, path) != 0) fail_msg("symlink %s: %s", path, strerror(errno));
    }
    snprintf(dir, sizeof dir, "%s/%s/refs", cache, repo);
    make_dirs(dir);
    snprintf(path, sizeof path, "%s/main", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(commit, f); /* no newline, as huggingface_hub writes it */
    assert_int_equal(fclose(f), 0);
}

/* ---- text and fixture helpers ---- */

char *tu_asset_dir(const char *name) {
    const char *assets = getenv("INGOT_ASSETS");
    char buf[4096];
    struct stat st;
    if (!assets) return NULL;
    snprintf(buf, sizeof buf, "%s/tokenizer-%s/models", assets, name);
    return stat(buf, &st) == 0 ? strdup(buf) : NULL;
}

json_t *tu_read_jsonl(const char *path) {
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    json_t *all;
    if (!f) return NULL;
    all = json_array();
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *v = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &err);
        if (!v) fail_msg("%s: line %zu: %s", path, json_array_size(all) + 1, err.text);
        json_array_append_new(all, v);
    }
    free(line);
    fclose(f);
    return all;
}

int32_t *tu_json_ids(const json_t *arr, size_t *n) {
    size_t i;
    json_t *v;
    int32_t *ids = malloc((json_array_size(arr) + 1) * sizeof *ids);
    assert_non_null(ids);
    json_array_foreach(arr, i, v) ids[i] = (int32_t)json_integer_value(v);
    *n = json_array_size(arr);
    return ids;
}

bool tu_ids_equal(const int32_t *ids, size_t n, const json_t *want) {
    if (n != json_array_size(want)) return false;
    for (size_t i = 0; i < n; i++)
        if (ids[i] != json_integer_value(json_array_get(want, i))) return false;
    return true;
}

void tu_print_text(const char *what, const char *s, size_t len, size_t max) {
    size_t shown = len < max ? len : max, off = 0;
    char *buf = malloc(4 * shown + 1); /* \xNN at most per byte */
    assert_non_null(buf);
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            buf[off++] = '\\';
            buf[off++] = 'n';
        } else if (c < 0x20 || c == 0x7f || c == '\\') {
            off += (size_t)snprintf(buf + off, 5, "\\x%02x", c);
        } else {
            buf[off++] = (char)c;
        }
    }
    buf[off] = 0;
    print_message("      %s \"%s\"%s (%zu bytes)\n", what, buf, len > max ? "..." : "", len);
    free(buf);
}

void tu_print_ids(const char *what, const int32_t *ids, size_t n) {
    char buf[512];
    size_t off = 0;
    for (size_t i = 0; i < n && off < sizeof buf - 32; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%d", i ? "," : "", ids[i]);
    buf[off] = 0;
    print_message("      %s [%s%s] (%zu ids)\n", what, buf, off >= sizeof buf - 32 ? ",..." : "",
                  n);
}

void tu_print_json_ids(const char *what, const json_t *arr) {
    size_t n;
    int32_t *ids = tu_json_ids(arr, &n);
    tu_print_ids(what, ids, n);
    free(ids);
}

void tu_print_got_error(ingot_status st) {
    print_message("      got error %s: %s\n", ingot_status_str(st), ingot_last_error());
}

void tu_print_ids_mismatch(const json_t *want, ingot_status st, const ingot_tokens *got) {
    tu_print_json_ids("expected", want);
    if (st == INGOT_OK)
        tu_print_ids("got     ", got->ids, got->count);
    else
        tu_print_got_error(st);
}

int tu_cuda_release(void) {
    ingot_device gpu = {INGOT_DEVICE_CUDA, 0};
    ingot_memory_stats ms;
    if (ingot_memory_stats_get(&ms, gpu) != INGOT_OK) return 0;
    int live = ms.active != 0;
    if (live) printf("cuda:0 still holds %zu bytes of live buffers at exit\n", ms.active);
    ingot_memory_empty_cache(gpu);
    return live;
}
