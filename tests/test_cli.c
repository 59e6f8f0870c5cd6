/* The ingot command-line tool, run as a program ($INGOT_BUILD_DIR/bin/ingot)
 * on the model fixtures: outputs, error messages and exit codes. Expected
 * values come from the fixtures' expected.safetensors / expected.json
 * (Hugging Face transformers), read here with ingot_safetensors_* and jansson. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "common/testutil.h"

static char g_bin[4096], g_models[4096], g_tmp[4096], g_assets[4096];

/* The result of one run of the tool. */
typedef struct run_result {
    int code;  /* exit status */
    char *out; /* standard output */
    char *err; /* standard error */
} run_result;

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

/* Runs "ingot ARGS" through the shell (ARGS formatted as printf), capturing
 * stdout and stderr. A run that hangs (reading without bound, waiting on a
 * FIFO) is stopped after 120 s and fails with exit 124. */
static run_result run(const char *fmt, ...) {
    char args[8192], errpath[sizeof g_tmp + 16],
        cmd[sizeof g_bin + sizeof args + sizeof errpath + 64]; /* room for the words around them */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", g_tmp);
    snprintf(cmd, sizeof cmd, "timeout 120 '%s' %s 2>'%s'", g_bin, args, errpath);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = 0, cap = 1 << 16;
    char *out = malloc(cap);
    for (size_t got; (got = fread(out + len, 1, cap - len - 1, p)) > 0;) {
        len += got;
        if (len + 1 == cap) out = realloc(out, cap *= 2);
        assert_non_null(out);
    }
    out[len] = 0;
    int st = pclose(p);
    run_result r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out, read_file(errpath)};
    return r;
}

static void run_free(run_result *r) {
    free(r->out);
    free(r->err);
}

/* r exited 0 and its stdout holds the needles (each may be NULL); frees r. */
static void expect_ok(run_result r, const char *needle, const char *needle2) {
    const char *miss = needle && !strstr(r.out, needle)     ? needle
                       : needle2 && !strstr(r.out, needle2) ? needle2
                                                            : NULL;
    if (r.code != 0 || miss)
        fail_msg("exit %d (want 0), stdout lacks '%s'; stderr '%s'", r.code, miss ? miss : "",
                 r.err);
    run_free(&r);
}

static void expect_error(run_result r, int code, const char *needle) {
    if (r.code != code || !strstr(r.err, needle))
        fail_msg("exit %d (want %d), stderr '%s' lacks '%s'", r.code, code, r.err, needle);
    run_free(&r);
}

/* The fixture's expected tensor name as f32 values (*n of them) and, when
 * wanted, the ids tensor as a "1,2,3" list. */
static float *expected_f32(const char *model, const char *name, size_t *n) {
    char path[4300];
    snprintf(path, sizeof path, "%s/%s/expected.safetensors", g_models, model);
    ingot_safetensors *st = NULL;
    ingot_array *a = NULL;
    TU_OK(ingot_safetensors_open(&st, path));
    TU_OK(ingot_safetensors_get(&a, st, name));
    *n = (size_t)ingot_array_size(a);
    float *v = malloc(*n * sizeof *v);
    TU_OK(ingot_array_to_host(v, *n * sizeof *v, INGOT_F32, a));
    ingot_array_free(a);
    ingot_safetensors_close(st);
    return v;
}

static void ids_list(char *buf, size_t cap, const char *model, const char *name) {
    size_t n, used = 0;
    float *v = expected_f32(model, name, &n);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ",%d" : "%d", (int)v[i]);
    free(v);
}

/* Compares a JSON array of numbers with want[n] within 1e-4 relative. */
static void assert_logits(json_t *arr, const float *want, size_t n) {
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        double got = json_number_value(json_array_get(arr, i));
        if (fabs(got - want[i]) > 1e-4 * fmax(1.0, fabs(want[i])))
            fail_msg("logit %zu: %.9g, want %.9g", i, got, want[i]);
    }
}

static void test_info(void **state) {
    (void)state;
    run_result r = run("info --model '%s/qwen3_tied_f32'", g_models);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "Qwen3ForCausalLM"));
    assert_non_null(strstr(r.out, "86464"));
    assert_non_null(strstr(r.out, "context length  4096"));
    assert_non_null(strstr(r.out, "dtype           f32"));
    run_free(&r);
    r = run("info -m '%s/gemma3_text_bf16'", g_models);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "gemma3_text"));
    assert_non_null(strstr(r.out, "sliding window  8"));
    assert_non_null(strstr(r.out, "bf16"));
    run_free(&r);
}

static void test_logits(void **state) {
    (void)state;
    const char *model = "qwen3_tied_f32";
    char ids[4096];
    size_t n;
    /* last position of the longest prompt */
    ids_list(ids, sizeof ids, model, "ids_3");
    float *want = expected_f32(model, "logits_3", &n);
    run_result r = run("logits --model '%s/%s' --prompt-ids %s", g_models, model, ids);
    assert_int_equal(r.code, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_logits(j, want + n - 256, 256);
    json_decref(j);
    run_free(&r);
    free(want);
    /* every position */
    ids_list(ids, sizeof ids, model, "ids_1");
    want = expected_f32(model, "logits_1", &n);
    r = run("logits --model '%s/%s' --prompt-ids %s --all-positions", g_models, model, ids);
    assert_int_equal(r.code, 0);
    j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), n / 256);
    for (size_t t = 0; t < n / 256; t++)
        assert_logits(json_array_get(j, t), want + t * 256, 256);
    json_decref(j);
    run_free(&r);
    free(want);
}

/* generate --ids equals the first 8 tokens of HF's greedy continuation. */
/* HF's greedy continuation, also at a temperature so small that l / T
 * overflows float (the limit of the softmax is the argmax). */
static void test_generate_greedy(void **state) {
    (void)state;
    const char *models[] = {"qwen3_tied_f32", "llama3_f32", "qwen3_tied_f32"};
    const char *temps[] = {"", "", "--temp 1e-39 --seed 3"};
    for (size_t m = 0; m < 3; m++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s/expected.json", g_models, models[m]);
        json_t *exp = json_load_file(path, 0, NULL);
        assert_non_null(exp);
        json_t *p0 = json_array_get(json_object_get(exp, "prompts"), 0);
        json_t *cont = json_object_get(p0, "continuation");
        char ids[4096];
        ids_list(ids, sizeof ids, models[m], "ids_0");
        run_result r = run("generate --model '%s/%s' --prompt-ids %s --ids --max-tokens 8 "
                           "--ignore-eos %s",
                           g_models, models[m], ids, temps[m]);
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.err, "prefill")); /* the measurements */
        json_t *got = json_loads(r.out, 0, NULL);
        assert_non_null(got);
        assert_int_equal(json_array_size(got), 8);
        for (size_t i = 0; i < 8; i++)
            assert_int_equal(json_integer_value(json_array_get(got, i)),
                             json_integer_value(json_array_get(cont, i)));
        json_decref(got);
        json_decref(exp);
        run_free(&r);
    }
}

/* classify --ids: top-1 is the argmax of HF's last logits; a one-token
 * label's score is its log-softmax. */
static void test_classify(void **state) {
    (void)state;
    const char *model = "qwen3_tied_f32";
    char path[4300], ids0[4096], ids2[4096];
    ids_list(ids0, sizeof ids0, model, "ids_0");
    ids_list(ids2, sizeof ids2, model, "ids_2");
    snprintf(path, sizeof path, "%s/prompts.txt", g_tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n%s\n", ids0, ids2);
    fclose(f);
    const char *names[] = {"logits_0", "logits_2"};
    double want_lp[2][2];
    int32_t want_top[2];
    for (int p = 0; p < 2; p++) {
        size_t n;
        float *lg = expected_f32(model, names[p], &n);
        const float *last = lg + n - 256;
        double mx = last[0], sum = 0;
        want_top[p] = 0;
        for (int v = 1; v < 256; v++)
            if (last[v] > mx) mx = last[v], want_top[p] = v;
        for (int v = 0; v < 256; v++)
            sum += exp(last[v] - mx);
        want_lp[p][0] = last[7] - mx - log(sum);
        want_lp[p][1] = last[42] - mx - log(sum);
        free(lg);
    }
    run_result r = run("classify --model '%s/%s' --prompts '%s' --ids --top-k 3 --batch-size 2",
                       g_models, model, path);
    assert_int_equal(r.code, 0);
    char *line = r.out;
    for (int p = 0; p < 2; p++) {
        json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
        assert_non_null(j);
        json_t *top = json_object_get(j, "top_k");
        assert_int_equal(json_array_size(top), 3);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "id")),
                         want_top[p]);
        json_decref(j);
        line = strchr(line, '\n') + 1;
    }
    run_free(&r);
    r = run("classify --model '%s/%s' --prompts '%s' --ids --labels 7,42", g_models, model, path);
    assert_int_equal(r.code, 0);
    line = r.out;
    for (int p = 0; p < 2; p++) {
        json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
        assert_non_null(j);
        json_t *sc = json_object_get(j, "scores");
        assert_true(fabs(json_number_value(json_object_get(sc, "7")) - want_lp[p][0]) < 1e-4);
        assert_true(fabs(json_number_value(json_object_get(sc, "42")) - want_lp[p][1]) < 1e-4);
        json_decref(j);
        line = strchr(line, '\n') + 1;
    }
    run_free(&r);
}

/* Writes n lines into g_tmp/name, line i formatted from fmt with i / 256
 * and i % 256; returns the path in buf. */
static const char *write_lines(char *buf, size_t cap, const char *name, size_t n, const char *fmt) {
    snprintf(buf, cap, "%s/%s", g_tmp, name);
    FILE *f = fopen(buf, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, fmt, (int)(i / 256), (int)(i % 256));
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* Bounded inputs (docs/cli.md): a stream without newlines fails at the
 * 1 MiB line limit, standard input at 256 MiB, more than 4096 labels at
 * once; 4096 labels are scored; a directory is refused; a pipe given as
 * --prompts is read as a stream. */
static void test_input_limits(void **state) {
    (void)state;
    char m[4300], prompts[4300], labels[4300], fifo[4400];
    snprintf(m, sizeof m, "--model '%s/qwen3_tied_f32' --ids", g_models);
    write_lines(prompts, sizeof prompts, "limit_prompts.txt", 1, "%d,%d\n");
    expect_error(run("classify %s --prompts /dev/zero", m), 1,
                 "INGOT_ERR_LIMIT: /dev/zero: a line is longer than the limit of 1 MiB");
    expect_error(run("classify %s --prompts '%s' --labels-file /dev/zero", m, prompts), 1,
                 "INGOT_ERR_LIMIT: /dev/zero: a line is longer than the limit of 1 MiB");
    expect_error(run("generate %s -p - < /dev/zero", m), 1,
                 "INGOT_ERR_LIMIT: standard input is over the limit of 256 MiB");
    expect_error(run("classify %s --prompts '%s'", m, g_tmp), 1, "is a directory");
    write_lines(labels, sizeof labels, "limit_labels.txt", 1000000, "%d,%d\n");
    char needle[4400];
    snprintf(needle, sizeof needle, "INGOT_ERR_LIMIT: %s holds more than 4096 labels", labels);
    expect_error(run("classify %s --prompts '%s' --labels-file '%s'", m, prompts, labels), 1,
                 needle);
    /* 4097 labels as one --labels list (too long for run's format buffer) */
    char list[4300];
    write_lines(list, sizeof list, "limit_list.txt", 4097, "%d%d,");
    expect_error(run("classify %s --prompts '%s' --labels \"$(cat '%s')\"", m, prompts, list), 1,
                 "INGOT_ERR_LIMIT: --labels holds more than 4096 labels");
    write_lines(labels, sizeof labels, "limit_labels.txt", 4096, "%d,%d\n");
    run_result r =
        run("classify %s --prompts '%s' --labels-file '%s' --batch-size 512", m, prompts, labels);
    assert_int_equal(r.code, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(json_object_get(j, "scores")), 4096);
    json_decref(j);
    run_free(&r);
    /* a FIFO is a stream: a child writes two prompts once classify opens it */
    snprintf(fifo, sizeof fifo, "%s/prompts.fifo", g_tmp);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *w = fopen(fifo, "w");
        _exit(w && fputs("1,2\n3,4\n", w) >= 0 && fclose(w) == 0 ? 0 : 1);
    }
    r = run("classify %s --prompts '%s' --top-k 1", m, fifo);
    int st = 0, fd = open(fifo, O_RDONLY | O_NONBLOCK); /* frees a writer still waiting */
    if (fd >= 0) close(fd);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "{\"prompt\": \"1,2\""));
    assert_non_null(strstr(r.out, "{\"prompt\": \"3,4\""));
    run_free(&r);
    /* where a file is expected, a FIFO is refused without waiting for a writer */
    char tok[4200];
    snprintf(tok, sizeof tok, "%s/fifo_tokenizer", g_tmp);
    assert_int_equal(mkdir(tok, 0700), 0);
    snprintf(fifo, sizeof fifo, "%s/tokenizer.json", tok);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_error(run("random-model --shape tiny --tokenizer '%s' '%s/fifo_out'", tok, g_tmp), 1,
                 "tokenizer.json: is not a regular file");
}

static void test_bench_and_random_model(void **state) {
    (void)state;
    /* missing parents are created */
    expect_ok(run("random-model --shape tiny --seed 3 '%s/new/parents/tiny'", g_tmp), NULL, NULL);
    expect_ok(run("random-model --shape tiny --seed 3 '%s/tiny'", g_tmp), NULL, NULL);
    expect_ok(run("info --model '%s/tiny'", g_tmp), "vocabulary      151936", NULL);
    /* a Gemma 3 shape: the loader takes the config it writes, and decoding
     * runs past the sliding window of 8 (through the ring) */
    expect_ok(run("random-model --shape gemma3-tiny '%s/gemma'", g_tmp), NULL, NULL);
    expect_ok(run("info --model '%s/gemma'", g_tmp), "model type      gemma3_text",
              "sliding window  8");
    expect_ok(run("bench --model '%s/gemma' -p 5 -n 20 -r 1", g_tmp), "tg20", NULL);
    run_result r = run("bench --model '%s/qwen3_tied_f32' -p 8 -n 4 -r 2 --json", g_models);
    assert_int_equal(r.code, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "test")), "pp8");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "test")), "tg4");
    assert_true(json_number_value(json_object_get(json_array_get(j, 1), "avg_ts")) > 0);
    json_decref(j);
    run_free(&r);
}

/* random-model fills its matrices in chunks on several threads: each matrix
 * must still hold the bytes of one ingot_random_normal call continuing the
 * seed's stream (embed_tokens first at counter 0; norms take none; then
 * layer 0's q_proj). The tiny embedding spans several chunks. */
static void test_random_model_streams(void **state) {
    (void)state;
    run_result r = run("random-model --shape tiny --seed 5 '%s/streams'", g_tmp);
    assert_int_equal(r.code, 0);
    run_free(&r);
    char path[4300];
    snprintf(path, sizeof path, "%s/streams/model.safetensors", g_tmp);
    ingot_safetensors *st = NULL;
    TU_OK(ingot_safetensors_open(&st, path));
    ingot_rng rng = ingot_rng_seed(5);
    const struct {
        const char *name;
        int64_t shape[2];
    } m[] = {{"model.embed_tokens.weight", {151936, 64}},
             {"model.layers.0.self_attn.q_proj.weight", {128, 64}}};
    for (size_t i = 0; i < 2; i++) {
        ingot_array *got = NULL, *want = NULL;
        TU_OK(ingot_safetensors_get(&got, st, m[i].name));
        TU_OK(ingot_random_normal(&want, &rng, INGOT_BF16, m[i].shape, 2, 0.0, 0.02));
        size_t n = ingot_array_nbytes(want);
        assert_int_equal(ingot_array_nbytes(got), n);
        uint16_t *a = malloc(n), *b = malloc(n);
        TU_OK(ingot_array_to_host(a, n, INGOT_BF16, got));
        TU_OK(ingot_array_to_host(b, n, INGOT_BF16, want));
        if (memcmp(a, b, n)) fail_msg("%s differs from its stream", m[i].name);
        free(a);
        free(b);
        ingot_array_free(got);
        ingot_array_free(want);
    }
    ingot_safetensors_close(st);
}

/* --device on every command that loads a model: a malformed name is a usage
 * error (2), a device this machine lacks a failure (1) that says why. */
static void test_device(void **state) {
    (void)state;
    char m[4300];
    snprintf(m, sizeof m, "--model '%s/qwen3_tied_f32'", g_models);
    run_result r = run("info %s --device cpu", m);
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = run("bench %s --device cpu -p 4 -n 2 -r 1 --json", m);
    assert_int_equal(r.code, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    json_t *first = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(first, "device")), "cpu");
    assert_true(json_is_integer(json_object_get(first, "peak_memory")));
    json_decref(j);
    run_free(&r);
    r = run("devices");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "cpu"));
    run_free(&r);
    const char *cmds[] = {"info", "logits", "generate", "chat", "classify", "bench"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        expect_error(run("%s %s --device gpu", cmds[i], m), 2,
                     "--device expects cpu, cuda or cuda:N, got 'gpu'");
        expect_error(run("%s %s --device cuda:99", cmds[i], m), 1, "CUDA device");
    }
    expect_error(run("info %s --device cuda:99", m), 1, "--device: INGOT_ERR_DEVICE");
    expect_error(run("random-model --shape tiny --device cpu '%s/x'", g_tmp), 2,
                 "unknown option '--device'");
}

/* Text in and out on a tiny random-weight model with the real Qwen3
 * tokenizer: generate through the chat template, a stop string, and a piped
 * two-turn chat whose second turn reuses the first turn's cache. */
static void test_text_and_chat(void **state) {
    (void)state;
    char tok[4200];
    snprintf(tok, sizeof tok, "%s/tokenizer-qwen3/models/tokenizer.json", g_assets);
    if (access(tok, R_OK) != 0) skip();
    run_result r =
        run("random-model --shape tiny --tokenizer '%s/tokenizer-qwen3/models' '%s/demo'", g_assets,
            g_tmp);
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = run("generate -m '%s/demo' -p 'Hello' -n 6 --temp 0.7 --seed 3", g_tmp);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.err, "prompt: 9 tokens")); /* the chat template's 9 tokens */
    char *first = strdup(r.out);
    run_free(&r);
    r = run("generate -m '%s/demo' -p 'Hello' -n 6 --temp 0.7 --seed 3", g_tmp);
    assert_string_equal(r.out, first); /* same seed, same text */
    free(first);
    run_free(&r);
    char hello[4300];
    snprintf(hello, sizeof hello, "%s/hello.txt", g_tmp);
    FILE *hf = fopen(hello, "w");
    assert_non_null(hf);
    fputs("Hello", hf);
    fclose(hf);
    r = run("generate -m '%s/demo' -p - -n 2 --ids < '%s'", g_tmp, hello); /* prompt from stdin */
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.err, "prompt: 9 tokens"));
    run_free(&r);
    r = run("generate -m '%s/demo' -p 'Hello' --raw -n 4 -q", g_tmp);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    run_free(&r);
    r = run("chat -m '%s/demo' -n 3 -v < /dev/null", g_tmp);
    assert_int_equal(r.code, 0);
    run_free(&r);
    expect_error(run("chat -m '%s/demo' -n 3 < /dev/zero", g_tmp), 1,
                 "INGOT_ERR_LIMIT: standard input: a line is longer than the limit of 1 MiB");
    char in[4300];
    snprintf(in, sizeof in, "%s/chat.txt", g_tmp);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs("Hi\nAnd then?\n/exit\nnever read\n", f);
    fclose(f);
    r = run("chat -m '%s/demo' -n 3 -v --system 'Be brief.' < '%s'", g_tmp, in);
    assert_int_equal(r.code, 0);
    const char *second = strstr(r.err, "prompt:");
    assert_non_null(second);
    second = strstr(second + 1, "prompt:");
    assert_non_null(second);
    assert_null(strstr(second + 1, "prompt:")); /* /exit ended the chat */
    long reused = 0;
    assert_int_equal(sscanf(strchr(second, '(') + 1, "%ld", &reused), 1);
    assert_true(reused > 10);
    run_free(&r);
}

/* --model takes a Hugging Face repo id, found in the cache HF_HOME names (a
 * fake one laid out as huggingface_hub lays it out, the fixture's files as
 * links to blobs); every command that loads a model takes it, and a miss
 * says where it looked. */
static void test_model_repo_id(void **state) {
    (void)state;
    static const char *const vars[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    char hf[4300], cache[4400], src[4300], snap[4600], ids[4096];
    snprintf(hf, sizeof hf, "%s/hf", g_tmp);
    snprintf(cache, sizeof cache, "%s/hub", hf);
    snprintf(src, sizeof src, "%s/qwen3_tied_f32", g_models);
    static const char *const files[] = {"config.json", "model.safetensors"};
    const char *commit = "89abcdef0123456789abcdef0123456789abcdef";
    tu_make_hub_repo(cache, "models--tiny--qwen3", commit, src, files, 2);
    setenv("HF_HOME", hf, 1);
    snprintf(snap, sizeof snap, "model folder    %s/models--tiny--qwen3/snapshots/%s", cache,
             commit);
    expect_ok(run("info --model tiny/qwen3"), snap, "86464");
    ids_list(ids, sizeof ids, "qwen3_tied_f32", "ids_0");
    run_result by_id =
        run("generate -m tiny/qwen3@main --prompt-ids %s --ids -n 6 --ignore-eos", ids);
    run_result by_dir = run("generate -m '%s' --prompt-ids %s --ids -n 6 --ignore-eos", src, ids);
    assert_int_equal(by_id.code, 0);
    assert_int_equal(by_dir.code, 0);
    assert_string_equal(by_id.out, by_dir.out);
    run_free(&by_id);
    run_free(&by_dir);
    const char *cmds[] = {"info", "logits", "generate", "chat", "classify", "bench"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        expect_error(run("%s --model tiny/missing", cmds[i]), 1,
                     "not in the Hugging Face cache: no folder ");
    snprintf(snap, sizeof snap, "%s/models--tiny--missing (cache from HF_HOME", cache);
    expect_error(run("info --model tiny/missing"), 1, snap);
    expect_error(run("info --model tiny/qwen3@v2"), 1, "models--tiny--qwen3/refs/v2 nor ");
    expect_error(run("info --model ''"), 2, "--model needs a non-empty value");
    unsetenv("HF_HOME");
}

static void test_usage_errors(void **state) {
    (void)state;
    char m[4300];
    snprintf(m, sizeof m, "--model '%s/qwen3_tied_f32'", g_models);
    expect_error(run(""), 2, "usage: ingot");
    expect_error(run("frobnicate"), 2, "unknown command 'frobnicate'");
    expect_error(run("generate --prompt-ids 1"), 2, "--model DIR is required");
    expect_error(run("generate %s", m), 2, "exactly one of --prompt");
    expect_error(run("generate %s --prompt-ids 1 --temp -1", m), 2, "--temp must be in");
    expect_error(run("generate %s --prompt-ids 1 --max-tokens many", m), 2,
                 "--max-tokens expects an integer");
    expect_error(run("generate %s --prompt-ids 1,x", m), 2, "comma-separated token ids");
    expect_error(run("generate %s --prompt-ids 1 --raw --system hi", m), 2, "--raw excludes");
    expect_error(run("generate %s --prompt-ids 1 --stop ''", m), 2, "--stop needs a non-empty");
    expect_error(run("logits %s --prompt-ids 1 --bogus", m), 2, "unknown option '--bogus'");
    expect_error(run("logits %s --prompt-ids", m), 2, "--prompt-ids needs a value");
    expect_error(run("bench %s -r 0", m), 2, "--repetitions must be in");
    expect_error(run("classify %s", m), 2, "--prompts FILE is required");
    expect_error(run("random-model --shape huge '%s/x'", g_tmp), 2, "--shape must be one of");
    run_result r = run("generate --help");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "--max-tokens"));
    run_free(&r);
}

static void test_failures(void **state) {
    (void)state;
    expect_error(run("info --model '%s/no-such-model'", g_tmp), 1, "config.json");
    expect_error(run("generate --model '%s/no-such-model' --prompt-ids 1", g_tmp), 1,
                 "config.json");
    expect_error(run("logits --model '%s/qwen3_tied_f32' --prompt-ids 300", g_models), 1,
                 "out of range");
    expect_error(run("logits --model '%s/qwen3_tied_f32' --prompt hello", g_models), 1,
                 "tokenizer");
    expect_error(run("generate --model '%s/qwen3_tied_f32' --prompt-ids 1", g_models), 1,
                 "--ids prints token ids instead");
    expect_error(
        run("classify --model '%s/qwen3_tied_f32' --prompts '%s/none.txt'", g_models, g_tmp), 1,
        "cannot open");
}

int main(void) {
    const char *build = getenv("INGOT_BUILD_DIR"), *fx = getenv("INGOT_FIXTURES");
    const char *assets = getenv("INGOT_ASSETS");
    snprintf(g_assets, sizeof g_assets, "%s", assets ? assets : ".cache/assets");
    snprintf(g_bin, sizeof g_bin, "%s/bin/ingot", build ? build : "build");
    snprintf(g_models, sizeof g_models, "%s/models", fx ? fx : "tests/fixtures");
    if (access(g_bin, X_OK) != 0) {
        printf("no ingot binary at %s: skipped\n", g_bin);
        return 77;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/ingot_test_cli_XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(g_tmp)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_logits),
        cmocka_unit_test(test_generate_greedy),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_input_limits),
        cmocka_unit_test(test_bench_and_random_model),
        cmocka_unit_test(test_random_model_streams),
        cmocka_unit_test(test_device),
        cmocka_unit_test(test_text_and_chat),
        cmocka_unit_test(test_model_repo_id),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
