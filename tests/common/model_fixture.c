/* Reading the model fixtures; see model_fixture.h. */
#include "common/model_fixture.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"

const char *tu_models_dir(char *buf, size_t cap) {
    const char *fx = getenv("INGOT_FIXTURES");
    snprintf(buf, cap, "%s/models", fx ? fx : "tests/fixtures");
    return buf;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t tu_fixture_names(const char *models, char ***names) {
    *names = NULL;
    DIR *d = opendir(models);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s/expected.json", models, e->d_name);
        if (e->d_name[0] == '.' || access(p, R_OK) != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            *names = realloc(*names, cap * sizeof **names);
            assert_non_null(*names);
        }
        (*names)[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(*names, n, sizeof **names, cmp_str);
    return n;
}

void tu_free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

void tu_fixture_open(tu_fixture *f, const char *models, const char *name,
                     const ingot_model_options *opts) {
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->dir, sizeof f->dir, "%s/%s", models, name);
    char p[700];
    snprintf(p, sizeof p, "%s/expected.json", f->dir);
    json_error_t err;
    f->expected = json_load_file(p, 0, &err);
    if (!f->expected) fail_msg("%s: %s", p, err.text);
    snprintf(p, sizeof p, "%s/expected.safetensors", f->dir);
    TU_OK(ingot_safetensors_open(&f->st, p));
    const char *dt = json_string_value(json_object_get(f->expected, "weights_dtype"));
    f->bf16 = dt && strcmp(dt, "bf16") == 0;
    TU_OK(ingot_model_load(&f->m, f->dir, opts));
}

void tu_fixture_close(tu_fixture *f) {
    ingot_model_free(f->m);
    ingot_safetensors_close(f->st);
    json_decref(f->expected);
}

size_t tu_fixture_n_prompts(const tu_fixture *f) {
    return json_array_size(json_object_get(f->expected, "prompts"));
}

json_t *tu_fixture_prompt(const tu_fixture *f, size_t i) {
    return json_array_get(json_object_get(f->expected, "prompts"), i);
}

ingot_array *tu_ids_array(const json_t *list, const int64_t *extra, int64_t n_extra) {
    int64_t n = (int64_t)json_array_size(list), shape[2] = {1, n + n_extra};
    int64_t *v = malloc((size_t)(n + n_extra) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = json_integer_value(json_array_get(list, (size_t)i));
    for (int64_t i = 0; i < n_extra; i++) v[n + i] = extra[i];
    ingot_array *a;
    TU_OK(ingot_array_from_data(&a, v, INGOT_I64, shape, 2));
    free(v);
    return a;
}

ingot_array *tu_fixture_tensor(const tu_fixture *f, const char *fmt, size_t i) {
    char name[64];
    snprintf(name, sizeof name, fmt, i);
    ingot_array *a;
    TU_OK(ingot_safetensors_get(&a, f->st, name));
    return a;
}

double tu_rel_err(const ingot_array *a, const ingot_array *e) {
    assert_int_equal(ingot_array_size(a), ingot_array_size(e));
    double *x = tu_values(a), *y = tu_values(e), d = 0, s = 0;
    for (int64_t i = 0; i < ingot_array_size(a); i++) {
        d = fmax(d, fabs(x[i] - y[i]));
        s = fmax(s, fabs(y[i]));
    }
    free(x);
    free(y);
    return d / (s > 0 ? s : 1);
}

int64_t tu_argmax_last(const ingot_array *logits) {
    double *v = tu_values(logits);
    int64_t V = ingot_array_dim(logits, -1), n = ingot_array_size(logits), best = n - V;
    for (int64_t j = n - V; j < n; j++)
        if (v[j] > v[best]) best = j;
    free(v);
    return best - (n - V);
}

ingot_status tu_forward(ingot_array **out, const ingot_model *m, const ingot_array *ids,
                        ingot_kv_cache *c, bool last_only) {
    ingot_forward_options o = {.last_only = last_only};
    return ingot_model_forward(out, m, ids, c, &o);
}

void tu_greedy(tu_fixture *f, size_t i, int64_t *out, ingot_array **step_logits, int64_t n) {
    json_t *prompt = json_object_get(tu_fixture_prompt(f, i), "ids");
    ingot_array *ids = tu_ids_array(prompt, NULL, 0), *lg;
    ingot_model_info info;
    ingot_model_get_info(&info, f->m);
    ingot_kv_cache *c;
    TU_OK(ingot_kv_cache_new(&c, f->m, 1, 0));
    TU_OK(tu_forward(&lg, f->m, ids, c, true));
    for (int64_t s = 0; s < n; s++) {
        out[s] = tu_argmax_last(lg);
        step_logits[s] = lg;
        ingot_array_free(ids);
        int64_t shape[2] = {1, 1};
        bool restart = info.rope_long_after > 0 && ingot_kv_cache_length(c) == info.rope_long_after;
        if (restart) { /* the whole sequence again, from an empty cache */
            ingot_kv_cache_free(c);
            TU_OK(ingot_kv_cache_new(&c, f->m, 1, 0));
            ids = tu_ids_array(prompt, out, s + 1);
        } else {
            TU_OK(ingot_array_from_data(&ids, &out[s], INGOT_I64, shape, 2));
        }
        if (s + 1 < n) TU_OK(tu_forward(&lg, f->m, ids, c, true));
    }
    ingot_array_free(ids);
    ingot_kv_cache_free(c);
}

int64_t tu_greedy_recomputable_from(const tu_fixture *f, size_t i, int64_t n) {
    ingot_model_info info;
    ingot_model_get_info(&info, f->m);
    int64_t len = (int64_t)json_array_size(json_object_get(tu_fixture_prompt(f, i), "ids"));
    int64_t first = info.rope_long_after - len + 1; /* the first step past the switch */
    return info.rope_long_after > 0 && len + n - 1 > info.rope_long_after && first > 0 ? first
                                                                                        : 0;
}

void tu_check_continuation(const tu_fixture *f, size_t i, const int64_t *got, int64_t n) {
    json_t *p = tu_fixture_prompt(f, i), *cont = json_object_get(p, "continuation");
    json_t *margins = json_object_get(p, "top2_margins");
    int64_t same = 0;
    while (same < n && got[same] == json_integer_value(json_array_get(cont, (size_t)same)))
        same++;
    if (getenv("INGOT_TEST_VERBOSE"))
        printf("  %s prompt %zu: greedy identical for %lld of %lld tokens\n", f->name, i,
               (long long)same, (long long)n);
    if (same < n) {
        double margin = json_number_value(json_array_get(margins, (size_t)same));
        if (!f->bf16 || !(margin < TU_BF16_MARGIN))
            fail_msg("%s prompt %zu: greedy token %lld is %lld, HF %lld (HF top-2 margin %.3g)",
                     f->name, i, (long long)same, (long long)got[same],
                     (long long)json_integer_value(json_array_get(cont, (size_t)same)), margin);
    }
}

/* Raises the peak of device dev to at least bytes (an array made and freed). */
static void raise_peak(ingot_device dev, int64_t bytes) {
    int64_t n = bytes / 4;
    ingot_array *host = NULL, *on = NULL;
    TU_OK(ingot_zeros(&host, INGOT_F32, &n, 1));
    TU_OK(ingot_array_to_device(&on, host, dev));
    ingot_array_free(host);
    ingot_array_free(on);
    ingot_memory_stats ms;
    TU_OK(ingot_memory_stats_get(&ms, dev));
    assert_true(ms.peak >= (size_t)bytes);
}

void tu_check_call_peak(const tu_fixture *f) {
    const int64_t big = (int64_t)64 << 20;
    ingot_model_info info;
    ingot_model_get_info(&info, f->m);
    size_t n;
    int32_t *ids = tu_json_ids(json_object_get(tu_fixture_prompt(f, 0), "ids"), &n);
    ingot_generate_options go = {.max_tokens = 4, .ignore_eos = true};
    ingot_generation g = {0};
    ingot_session *s = NULL;
    raise_peak(info.device, big);
    TU_OK(ingot_session_new(&s, f->m, NULL, 0));
    TU_OK(ingot_session_generate(&g, s, ids, n, &go));
    if (!(g.metrics.peak_memory > 0 && g.metrics.peak_memory < (size_t)big))
        fail_msg("%s: a session's first call reports a peak of %zu bytes", f->name,
                 g.metrics.peak_memory);
    ingot_generation_free(&g);
    ingot_session_free(s);
    raise_peak(info.device, big);
    ingot_token_seq seq = {ids, n};
    TU_OK(ingot_generate_batch(&g, f->m, NULL, &seq, 1, &go));
    if (!(g.metrics.peak_memory > 0 && g.metrics.peak_memory < (size_t)big))
        fail_msg("%s: a batch call reports a peak of %zu bytes", f->name, g.metrics.peak_memory);
    ingot_generation_free(&g);
    free(ids);
}
