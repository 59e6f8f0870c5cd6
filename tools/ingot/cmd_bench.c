/* ingot bench: prompt processing (pp) and token generation (tg) speed in
 * tokens/s on the CPU or a GPU, as llama-bench reports them, the device's
 * peak memory, and optionally the CPU's memory bandwidth with the decode
 * bound it implies. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static int usage(FILE *f, int code) {
    fprintf(f, "usage: ingot bench --model DIR [--device DEV] [-p N] [-n N] [-r N] [-t N] "
               "[--seed S]\n"
               "                   [--bandwidth] [--json]\n\n"
               "Measures, like llama-bench, prompt processing (ppN: one forward pass over N\n"
               "random token ids into an empty KV cache) and token generation (tgN: N forward\n"
               "passes of one random id each, from an empty cache), after one warm-up run of\n"
               "each. Prints the mean and standard deviation of tokens/s over the repetitions\n"
               "and the device's peak memory (of array buffers: GPU weights are counted, CPU\n"
               "weights mapped from the file are not). On a GPU each timer stops once the\n"
               "device has finished the work queued on it.\n\n"
               CLI_MODEL_HELP);
    cli_device_help(f);
    fprintf(f, "  -p, --n-prompt N      prompt tokens (default 512; 0 skips pp)\n"
               "  -n, --n-gen N         generated tokens (default 128; 0 skips tg)\n"
               "  -r, --repetitions N   repetitions of each test (default 5)\n"
               "  -t, --threads N       CPU threads (default: every core)\n"
               "  --seed S              seed of the random ids (default 0)\n"
               "  --bandwidth           also measure the CPU's memory read bandwidth (the\n"
               "                        threads summing a 1 GiB buffer, best of 10) and print\n"
               "                        the bound: bandwidth / bytes of weights (CPU only)\n"
               "  --json                print the results as a JSON array instead of a table\n");
    return code;
}

typedef struct bench_result {
    char test[32];
    int64_t n_prompt, n_gen;
    double mean, sd; /* tokens/s */
    size_t device_allocs; /* driver allocations during the timed runs (after the
                             warm-up): 0 when the caching allocator serves all */
} bench_result;

/* What every run of a test needs. */
typedef struct bench_ctx {
    const ingot_model *m;
    ingot_device device; /* the model's */
    int64_t vocab;
    uint64_t state; /* the LCG of the random ids */
} bench_ctx;

/* Fills ids with n random ids in [0, vocab) from the context's LCG. */
static void random_ids(int32_t *ids, int64_t n, bench_ctx *b) {
    for (int64_t i = 0; i < n; i++) {
        b->state = b->state * 6364136223846793005ULL + 1442695040888963407ULL;
        ids[i] = (int32_t)((b->state >> 33) % (uint64_t)b->vocab);
    }
}

/* Queues one forward pass of n ids [1, n] through cache, the logits dropped
 * (the ids stay a CPU array, as the engine gives them: the model checks them
 * on the host). */
static ingot_status forward(const bench_ctx *b, ingot_kv_cache *c, const int32_t *ids, int64_t n) {
    int64_t shape[2] = {1, n};
    ingot_array *in = NULL, *logits = NULL; /* [1, n] i32, [1, 1, V] f32 */
    ingot_forward_options fo = {.last_only = true};
    ingot_status s = ingot_array_from_data(&in, ids, INGOT_I32, shape, 2);
    if (!s) s = ingot_model_forward(&logits, b->m, in, c, &fo);
    ingot_array_free(logits);
    ingot_array_free(in);
    return s;
}

/* One run of a test: n_prompt ids at once, then n_gen ids one at a time;
 * the tokens/s of the run in *tps. The timer runs from an idle device to the
 * end of the last pass's work. */
static ingot_status run_once(double *tps, bench_ctx *b, int64_t n_prompt, int64_t n_gen) {
    int64_t total = n_prompt + n_gen;
    int32_t *ids = malloc((size_t)total * sizeof *ids);
    ingot_kv_cache *c = NULL;
    ingot_status s = ids ? ingot_kv_cache_new(&c, b->m, 1, total) : INGOT_ERR_OUT_OF_MEMORY;
    if (!s) random_ids(ids, total, b);
    if (!s) s = ingot_device_synchronize(b->device);
    double t0 = cli_now();
    if (!s && n_prompt) s = forward(b, c, ids, n_prompt);
    for (int64_t i = 0; i < n_gen && !s; i++)
        s = forward(b, c, ids + n_prompt + i, 1);
    if (!s) s = ingot_device_synchronize(b->device);
    *tps = (double)total / (cli_now() - t0);
    ingot_kv_cache_free(c);
    free(ids);
    return s;
}

static ingot_status run_test(bench_result *r, bench_ctx *b, int64_t n_prompt, int64_t n_gen,
                             int64_t reps) {
    snprintf(r->test, sizeof r->test, n_prompt ? "pp%" PRId64 : "tg%" PRId64,
             n_prompt ? n_prompt : n_gen);
    r->n_prompt = n_prompt;
    r->n_gen = n_gen;
    double warm, sum = 0, sum2 = 0;
    ingot_memory_stats before = {0}, after = {0};
    ingot_status s = run_once(&warm, b, n_prompt, n_gen);
    if (!s) s = ingot_memory_stats_get(&before, b->device);
    for (int64_t i = 0; i < reps && !s; i++) {
        double tps;
        s = run_once(&tps, b, n_prompt, n_gen);
        sum += tps;
        sum2 += tps * tps;
    }
    if (!s) s = ingot_memory_stats_get(&after, b->device);
    r->device_allocs = after.device_allocs - before.device_allocs;
    r->mean = sum / (double)reps;
    r->sd = reps > 1 ? sqrt(fmax(0.0, (sum2 - sum * r->mean) / (double)(reps - 1))) : 0.0;
    return s;
}

/* One reader thread's share of the read-bandwidth test. */
typedef struct reader {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} reader;

static void *read_words(void *arg) {
    reader *r = arg;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= r->n; i += 4) {
        s0 += r->p[i];
        s1 += r->p[i + 1];
        s2 += r->p[i + 2];
        s3 += r->p[i + 3];
    }
    r->sum = s0 ^ s1 ^ s2 ^ s3;
    return NULL;
}

/* Best read bandwidth in bytes/s of threads threads summing disjoint parts of
 * a 1 GiB buffer (what decoding does with the weights: stream them once);
 * 0 when the buffer cannot be allocated. */
static double measure_bandwidth(int threads) {
    size_t words = ((size_t)1 << 30) / sizeof(uint64_t), per = words / (size_t)threads;
    uint64_t *buf = malloc(words * sizeof *buf);
    reader *rd = calloc((size_t)threads, sizeof *rd);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    double best = 0;
    volatile uint64_t sink = 0;
    if (buf && rd && tid) {
        for (size_t i = 0; i < words; i++)
            buf[i] = i;
        for (int rep = 0; rep < 10; rep++) {
            double t0 = cli_now();
            int started = 0;
            for (int t = 0; t < threads; t++) {
                rd[t] = (reader){buf + (size_t)t * per, per, 0};
                started += pthread_create(&tid[t], NULL, read_words, &rd[t]) == 0;
            }
            for (int t = 0; t < started; t++)
                pthread_join(tid[t], NULL);
            double bw = (double)(per * (size_t)started * sizeof *buf) / (cli_now() - t0);
            for (int t = 0; t < started; t++)
                sink ^= rd[t].sum;
            if (bw > best) best = bw;
        }
    }
    (void)sink;
    free(buf);
    free(rd);
    free(tid);
    return best;
}

/* What the table and the JSON print besides the results. */
typedef struct bench_report {
    ingot_model_info info;
    char device[32];    /* "cpu" or "cuda:N" */
    int threads;        /* CPU threads */
    size_t peak_memory; /* the device's peak bytes of array buffers */
    double bandwidth;   /* bytes/s; 0 when not measured */
} bench_report;

static void print_table(const bench_report *rep, const bench_result *r, size_t n) {
    const ingot_model_info *info = &rep->info;
    char model[96], device[48];
    double p = (double)info->n_params;
    snprintf(model, sizeof model, "%s %.2f%s %s", info->model_type, p >= 1e9 ? p / 1e9 : p / 1e6,
             p >= 1e9 ? "B" : "M", ingot_dtype_name(info->dtype));
    if (!strcmp(rep->device, "cpu"))
        snprintf(device, sizeof device, "cpu, %d threads", rep->threads);
    else
        snprintf(device, sizeof device, "%s", rep->device);
    printf("| %-24s | %10s | %-16s | %8s | %21s |\n", "model", "size", "device", "test", "t/s");
    printf("| %.24s | %.10s | %.16s | %.8s | %.21s |\n", "------------------------", "----------",
           "----------------", "--------", "---------------------");
    for (size_t i = 0; i < n; i++)
        printf("| %-24s | %6.2f GiB | %-16s | %8s | %10.2f ± %8.2f |\n", model,
               (double)info->weight_bytes / (1024.0 * 1024.0 * 1024.0), device, r[i].test,
               r[i].mean, r[i].sd);
    printf("\npeak memory on %s: %.1f MiB (weights %.1f MiB)\n", rep->device,
           (double)rep->peak_memory / (1024.0 * 1024.0),
           (double)info->weight_bytes / (1024.0 * 1024.0));
    if (strcmp(rep->device, "cpu"))
        for (size_t i = 0; i < n; i++)
            printf("%s: %zu device allocations during the timed runs\n", r[i].test,
                   r[i].device_allocs);
    if (rep->bandwidth > 0)
        printf("memory read bandwidth (%d threads): %.2f GB/s; weights %.3f GB read per decoded "
               "token: decode bound %.2f tokens/s\n",
               rep->threads, rep->bandwidth / 1e9, (double)info->weight_bytes / 1e9,
               rep->bandwidth / (double)info->weight_bytes);
}

static void print_json(const bench_report *rep, const bench_result *r, size_t n) {
    const ingot_model_info *info = &rep->info;
    printf("[\n");
    for (size_t i = 0; i < n; i++) {
        printf("  {\"model_type\": \"%s\", \"model_n_params\": %" PRId64
               ", \"model_size\": %zu, \"type\": \"%s\", \"backend\": \"%s\", \"device\": "
               "\"%s\", \"n_threads\": %d, \"test\": \"%s\", \"n_prompt\": %" PRId64
               ", \"n_gen\": %" PRId64 ", \"avg_ts\": %.6f, \"stddev_ts\": %.6f"
               ", \"peak_memory\": %zu, \"device_allocs\": %zu",
               info->model_type, info->n_params, info->weight_bytes, ingot_dtype_name(info->dtype),
               strcmp(rep->device, "cpu") ? "CUDA" : "CPU", rep->device, rep->threads, r[i].test,
               r[i].n_prompt, r[i].n_gen, r[i].mean, r[i].sd, rep->peak_memory,
               r[i].device_allocs);
        if (rep->bandwidth > 0)
            printf(", \"bandwidth_bytes_per_s\": %.0f, \"decode_bound_ts\": %.6f", rep->bandwidth,
                   rep->bandwidth / (double)info->weight_bytes);
        printf("}%s\n", i + 1 < n ? "," : "");
    }
    printf("]\n");
}

int cli_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    const char *dir = NULL;
    int64_t n_prompt = 512, n_gen = 128, reps = 5, threads = 0, seed = 0;
    bool json = false, bandwidth = false;
    cli_device dev = {0};
    const cli_option opts[] = {
        {"--model", "-m", CLI_MODEL, &dir, 0, 0},
        {"--n-prompt", "-p", CLI_INT, &n_prompt, 0, 1 << 20},
        {"--n-gen", "-n", CLI_INT, &n_gen, 0, 1 << 20},
        {"--repetitions", "-r", CLI_INT, &reps, 1, 1000},
        {"--threads", "-t", CLI_INT, &threads, 1, 256},
        {"--seed", NULL, CLI_INT, &seed, 0, 9007199254740992.0},
        {"--json", NULL, CLI_FLAG, &json, 0, 0},
        {"--bandwidth", NULL, CLI_FLAG, &bandwidth, 0, 0},
        cli_device_option(&dev),
    };
    int rc = cli_parse("bench", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc) return rc;
    if (!dir) return cli_usage_error("bench", "--model DIR is required");
    if (!n_prompt && !n_gen)
        return cli_usage_error("bench", "--n-prompt and --n-gen are both 0: nothing to measure");
    bench_ctx b = {.device = cli_device_get(&dev), .state = (uint64_t)seed};
    if (bandwidth && b.device.type != INGOT_DEVICE_CPU)
        return cli_usage_error("bench", "--bandwidth measures the CPU's memory: add --device cpu");
    if (threads) ingot_set_num_threads((int)threads);
    ingot_model *m = NULL;
    if (cli_load_model(&m, "bench", dir, &dev)) return 1;
    bench_report rep = {.threads = ingot_get_num_threads()};
    ingot_model_get_info(&rep.info, m);
    cli_device_name(rep.device, sizeof rep.device, b.device);
    int64_t longest = n_prompt > n_gen ? n_prompt : n_gen;
    if (longest > rep.info.context_length) {
        ingot_model_free(m);
        return cli_usage_error("bench", "%" PRId64 " tokens exceed the context length %" PRId64,
                               longest, rep.info.context_length);
    }
    b.m = m;
    b.vocab = rep.info.vocab_size;
    bench_result r[2];
    size_t nr = 0;
    ingot_status s = INGOT_OK;
    if (n_prompt) s = run_test(&r[nr++], &b, n_prompt, 0, reps);
    if (!s && n_gen) s = run_test(&r[nr++], &b, 0, n_gen, reps);
    ingot_memory_stats ms = {0};
    if (!s) s = ingot_memory_stats_get(&ms, b.device);
    rep.peak_memory = ms.peak;
    rep.bandwidth = !s && bandwidth ? measure_bandwidth(rep.threads) : 0;
    if (!s && json)
        print_json(&rep, r, nr);
    else if (!s)
        print_table(&rep, r, nr);
    ingot_model_free(m);
    return s ? cli_fail("bench", s) : 0;
}
