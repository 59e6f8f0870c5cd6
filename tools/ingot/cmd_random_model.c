/* ingot random-model: writes a Hugging Face model folder of the Qwen3 or
 * Gemma 3 architecture with seeded random weights (for the demo and
 * benchmarks). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "options.h"

/* Shapes of ../shared/reference/model-shapes.json, a tiny Qwen3 one with the
 * real vocabulary for the bundled demo, and a tiny Gemma 3 one (window 8) for
 * tests. Gemma 3 shapes add a sliding
 * window on five layers of six, query_pre_attn_scalar and linear rope
 * scaling of the global layers (0: none). */
typedef struct model_shape {
    const char *name;
    int64_t hidden, intermediate, layers, heads, kv_heads, head_dim, vocab, context;
    bool tied, gemma;
    int64_t window, query_pre_attn_scalar;
    double rope_linear;
} model_shape;

static const model_shape shapes[] = {
    {"qwen3-0.6b", 1024, 3072, 28, 16, 8, 128, 151936, 40960, true, false, 0, 0, 0},
    {"qwen3-1.7b", 2048, 6144, 28, 16, 8, 128, 151936, 40960, true, false, 0, 0, 0},
    {"qwen3-8b", 4096, 12288, 36, 32, 8, 128, 151936, 40960, false, false, 0, 0, 0},
    {"gemma3-1b", 1152, 6912, 26, 4, 1, 256, 262144, 32768, true, true, 512, 256, 0},
    {"gemma3-4b-text", 2560, 10240, 34, 8, 4, 256, 262208, 131072, true, true, 1024, 256, 8},
    {"tiny", 64, 192, 2, 4, 2, 32, 151936, 40960, true, false, 0, 0, 0},
    {"gemma3-tiny", 64, 192, 7, 2, 1, 32, 262144, 4096, true, true, 8, 32, 8},
};

/* Special tokens: Qwen3's <|endoftext|> and <|im_end|>; Gemma 3's <bos>,
 * <eos> and <end_of_turn>. */
#define QWEN3_BOS 151643
#define QWEN3_EOS 151645
#define GEMMA3_BOS 2
#define GEMMA3_EOS 1
#define GEMMA3_EOT 106

static int usage(FILE *f, int code) {
    fprintf(f, "usage: ingot random-model --shape NAME [--tokenizer DIR] [--dtype D] [--seed S] "
               "OUT\n\n"
               "Writes the folder OUT (created with its parents) holding a Qwen3- or Gemma\n"
               "3-architecture model with random weights: config.json, generation_config.json and\n"
               "model.safetensors, plus tokenizer.json and tokenizer_config.json copied from the\n"
               "tokenizer folder DIR when given. Matrices are N(0, 0.02) from the seed, norms are\n"
               "ones: the same seed writes the same bytes. The text such a model generates is\n"
               "meaningless; it serves demos and speed measurements.\n\n"
               "  --shape NAME       ");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        fprintf(f, i ? ", %s" : "%s", shapes[i].name);
    fprintf(f, "\n"
               "  --tokenizer DIR    a folder with tokenizer.json (e.g. Qwen3's)\n"
               "  --dtype D          bf16 (default), f16 or f32\n"
               "  --seed S           random seed (default 0)\n");
    return code;
}

/* Matrices are filled in chunks of CHUNK elements by several threads. Element
 * i of a matrix takes Philox words 2i and 2i + 1 of its stream (four words a
 * counter), so a chunk starting at an even element e continues the stream at
 * counter base + e / 2: the bytes are those of one ingot_random_normal call
 * per matrix, whatever the thread count. */
#define CHUNK ((int64_t)1 << 20)

/* One tensor of the folder. */
typedef struct tensor {
    char *data;          /* a matrix's host buffer (its array wraps it); NULL for a norm */
    int64_t size;        /* elements */
    uint64_t counter;    /* a matrix's first Philox counter */
    int64_t first_chunk; /* chunks of the matrices before it */
} tensor;

/* The weights in file order (names and arrays as ingot_safetensors_save
 * takes them) and the state of the parallel fill. */
typedef struct weights {
    char **names;
    ingot_array **arrays;
    tensor *t;
    size_t n;
    ingot_dtype dtype;
    uint64_t seed, next_counter;
    int64_t n_chunks;
    atomic_llong next_chunk;
    pthread_mutex_t mu; /* guards status and error */
    ingot_status status;
    char error[1024];
} weights;

/* Appends the tensor name: an unfilled [d0, d1] matrix whose stream starts at
 * the next counter, or [d0] ones when d1 is 0 (norms). */
static ingot_status add_tensor(weights *w, const char *name, int64_t d0, int64_t d1) {
    int64_t shape[2] = {d0, d1};
    tensor *t = &w->t[w->n];
    *t = (tensor){.size = d1 ? d0 * d1 : d0, .first_chunk = w->n_chunks};
    if (!(w->names[w->n] = strdup(name))) return INGOT_ERR_OUT_OF_MEMORY;
    ingot_status s;
    if (d1) {
        t->data = malloc((size_t)t->size * ingot_dtype_size(w->dtype));
        s = t->data ? ingot_array_wrap(&w->arrays[w->n], t->data, w->dtype, shape, 2, free, t->data)
                    : INGOT_ERR_OUT_OF_MEMORY;
        if (s) free(t->data);
    } else {
        s = ingot_ones(&w->arrays[w->n], w->dtype, shape, 1);
    }
    if (s) {
        free(w->names[w->n]);
        return s;
    }
    if (d1) {
        t->counter = w->next_counter;
        w->next_counter += (uint64_t)(t->size + 1) / 2; /* 2 words an element, 4 a counter */
        w->n_chunks += (t->size + CHUNK - 1) / CHUNK;
    }
    w->n++;
    return INGOT_OK;
}

/* Adds every weight of shape sh in a fixed order (the order of the streams). */
static ingot_status plan_weights(weights *w, const model_shape *sh) {
    int64_t h = sh->hidden, q = sh->heads * sh->head_dim, kv = sh->kv_heads * sh->head_dim;
    ingot_status s = add_tensor(w, "model.embed_tokens.weight", sh->vocab, h);
    if (!s) s = add_tensor(w, "model.norm.weight", h, 0);
    if (!s && !sh->tied) s = add_tensor(w, "lm_head.weight", sh->vocab, h);
    for (int64_t l = 0; l < sh->layers && !s; l++) {
        const struct {
            const char *suffix;
            int64_t d0, d1;
        } layer[] = {
            {"input_layernorm.weight", h, 0},
            {"post_attention_layernorm.weight", h, 0},
            {sh->gemma ? "pre_feedforward_layernorm.weight" : NULL, h, 0},
            {sh->gemma ? "post_feedforward_layernorm.weight" : NULL, h, 0},
            {"self_attn.q_proj.weight", q, h},
            {"self_attn.k_proj.weight", kv, h},
            {"self_attn.v_proj.weight", kv, h},
            {"self_attn.o_proj.weight", h, q},
            {"self_attn.q_norm.weight", sh->head_dim, 0},
            {"self_attn.k_norm.weight", sh->head_dim, 0},
            {"mlp.gate_proj.weight", sh->intermediate, h},
            {"mlp.up_proj.weight", sh->intermediate, h},
            {"mlp.down_proj.weight", h, sh->intermediate},
        };
        for (size_t i = 0; i < sizeof layer / sizeof *layer && !s; i++) {
            if (!layer[i].suffix) continue;
            char name[128];
            snprintf(name, sizeof name, "model.layers.%" PRId64 ".%s", l, layer[i].suffix);
            s = add_tensor(w, name, layer[i].d0, layer[i].d1);
        }
    }
    return s;
}

/* The matrix holding chunk c: the last tensor whose first chunk is <= c (a
 * norm has no chunks, so the tensor after it starts where it does). */
static const tensor *chunk_owner(const weights *w, int64_t c) {
    size_t lo = 0, hi = w->n; /* t[lo].first_chunk <= c < t[hi].first_chunk (hi = n: none) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->t[mid].first_chunk <= c)
            lo = mid;
        else
            hi = mid;
    }
    return &w->t[lo];
}

/* Fills chunk c: N(0, 0.02) values of its matrix's stream. */
static ingot_status fill_chunk(const weights *w, int64_t c) {
    const tensor *t = chunk_owner(w, c);
    int64_t start = (c - t->first_chunk) * CHUNK;
    int64_t len = t->size - start < CHUNK ? t->size - start : CHUNK;
    size_t sz = ingot_dtype_size(w->dtype);
    ingot_rng rng = ingot_rng_seed(w->seed);
    rng.counter = t->counter + (uint64_t)start / 2;
    ingot_array *part = NULL; /* [len] */
    ingot_status s = ingot_random_normal(&part, &rng, w->dtype, &len, 1, 0.0, 0.02);
    if (!s)
        s = ingot_array_to_host(t->data + start * (int64_t)sz, (size_t)len * sz, w->dtype, part);
    ingot_array_free(part);
    return s;
}

/* A fill thread: takes chunks until none is left or one failed. */
static void *fill_worker(void *arg) {
    weights *w = arg;
    for (int64_t c; (c = atomic_fetch_add(&w->next_chunk, 1)) < w->n_chunks;) {
        ingot_status s = fill_chunk(w, c);
        if (!s) continue;
        pthread_mutex_lock(&w->mu);
        if (!w->status) {
            w->status = s;
            snprintf(w->error, sizeof w->error, "%s", ingot_last_error());
        }
        pthread_mutex_unlock(&w->mu);
        atomic_store(&w->next_chunk, w->n_chunks);
    }
    return NULL;
}

/* Fills every matrix with one thread per CPU (the caller among them). */
static ingot_status fill_weights(weights *w) {
    int n = ingot_get_num_threads(), started = 0;
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    while (tid && started < n - 1 && pthread_create(&tid[started], NULL, fill_worker, w) == 0)
        started++;
    fill_worker(w);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    free(tid);
    return w->status;
}

/* Makes the weights of shape sh and saves them to path; prints the error and
 * returns 1 on failure. */
static int write_weights(const char *path, const model_shape *sh, ingot_dtype dt, uint64_t seed) {
    size_t cap = 3 + 13 * (size_t)sh->layers;
    weights w = {.dtype = dt, .seed = seed, .mu = PTHREAD_MUTEX_INITIALIZER};
    ingot_clear_error();
    w.names = calloc(cap, sizeof *w.names);
    w.arrays = calloc(cap, sizeof *w.arrays);
    w.t = calloc(cap, sizeof *w.t);
    ingot_status s = w.names && w.arrays && w.t ? plan_weights(&w, sh) : INGOT_ERR_OUT_OF_MEMORY;
    const char *msg = ingot_last_error();
    if (!s && (s = fill_weights(&w))) msg = w.error; /* a fill thread's message */
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    if (!s)
        s = ingot_safetensors_save(path, (const char *const *)w.names,
                                   (const ingot_array *const *)w.arrays, w.n, mk, mv, 1);
    for (size_t i = 0; i < w.n; i++) {
        ingot_array_free(w.arrays[i]);
        free(w.names[i]);
    }
    free(w.names);
    free(w.arrays);
    free(w.t);
    if (s) fprintf(stderr, "ingot random-model: %s: %s\n", ingot_status_str(s), msg);
    return s != INGOT_OK;
}

/* config.json's body for a Qwen3 shape. */
static void qwen3_config(FILE *f, const model_shape *sh, const char *torch_dtype) {
    fprintf(f,
            "{\n  \"architectures\": [\"Qwen3ForCausalLM\"],\n  \"model_type\": \"qwen3\",\n"
            "  \"attention_bias\": false,\n  \"bos_token_id\": %d,\n  \"eos_token_id\": %d,\n"
            "  \"head_dim\": %" PRId64 ",\n  \"hidden_act\": \"silu\",\n"
            "  \"hidden_size\": %" PRId64 ",\n  \"intermediate_size\": %" PRId64 ",\n"
            "  \"max_position_embeddings\": %" PRId64 ",\n  \"num_attention_heads\": %" PRId64
            ",\n  \"num_hidden_layers\": %" PRId64 ",\n  \"num_key_value_heads\": %" PRId64 ",\n"
            "  \"rms_norm_eps\": 1e-06,\n  \"rope_scaling\": null,\n  \"rope_theta\": 1000000.0,\n"
            "  \"sliding_window\": null,\n  \"use_sliding_window\": false,\n"
            "  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"%s\",\n"
            "  \"vocab_size\": %" PRId64 "\n}\n",
            QWEN3_BOS, QWEN3_EOS, sh->head_dim, sh->hidden, sh->intermediate, sh->context,
            sh->heads, sh->layers, sh->kv_heads, sh->tied ? "true" : "false", torch_dtype,
            sh->vocab);
}

/* config.json's body for a Gemma 3 shape (the Hub's form). */
static void gemma3_config(FILE *f, const model_shape *sh, const char *torch_dtype) {
    char scaling[96] = "null";
    if (sh->rope_linear > 0)
        snprintf(scaling, sizeof scaling, "{\"rope_type\": \"linear\", \"factor\": %.1f}",
                 sh->rope_linear);
    fprintf(f,
            "{\n  \"architectures\": [\"Gemma3ForCausalLM\"],\n  \"model_type\": \"gemma3_text\",\n"
            "  \"attention_bias\": false,\n  \"attn_logit_softcapping\": null,\n"
            "  \"bos_token_id\": %d,\n  \"eos_token_id\": [%d, %d],\n  \"pad_token_id\": 0,\n"
            "  \"final_logit_softcapping\": null,\n  \"head_dim\": %" PRId64 ",\n"
            "  \"hidden_activation\": \"gelu_pytorch_tanh\",\n  \"hidden_size\": %" PRId64 ",\n"
            "  \"intermediate_size\": %" PRId64 ",\n  \"max_position_embeddings\": %" PRId64 ",\n"
            "  \"num_attention_heads\": %" PRId64 ",\n  \"num_hidden_layers\": %" PRId64 ",\n"
            "  \"num_key_value_heads\": %" PRId64 ",\n  \"query_pre_attn_scalar\": %" PRId64 ",\n"
            "  \"rms_norm_eps\": 1e-06,\n  \"rope_local_base_freq\": 10000.0,\n"
            "  \"rope_scaling\": %s,\n  \"rope_theta\": 1000000.0,\n"
            "  \"sliding_window\": %" PRId64 ",\n  \"sliding_window_pattern\": 6,\n"
            "  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"%s\",\n"
            "  \"vocab_size\": %" PRId64 "\n}\n",
            GEMMA3_BOS, GEMMA3_EOS, GEMMA3_EOT, sh->head_dim, sh->hidden, sh->intermediate,
            sh->context, sh->heads, sh->layers, sh->kv_heads, sh->query_pre_attn_scalar, scaling,
            sh->window, sh->tied ? "true" : "false", torch_dtype, sh->vocab);
}

static int write_config(const char *out, const model_shape *sh, const char *dtype_name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", out);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    const char *torch_dtype = !strcmp(dtype_name, "bf16")  ? "bfloat16"
                              : !strcmp(dtype_name, "f16") ? "float16"
                                                           : "float32";
    (sh->gemma ? gemma3_config : qwen3_config)(f, sh, torch_dtype);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    snprintf(path, sizeof path, "%s/generation_config.json", out);
    f = bad ? NULL : fopen(path, "w");
    if (!f) return 1;
    if (sh->gemma)
        fprintf(f,
                "{\n  \"bos_token_id\": %d,\n  \"eos_token_id\": [%d, %d],\n"
                "  \"do_sample\": false\n}\n",
                GEMMA3_BOS, GEMMA3_EOS, GEMMA3_EOT);
    else
        fprintf(f,
                "{\n  \"bos_token_id\": %d,\n  \"eos_token_id\": [%d, %d],\n"
                "  \"do_sample\": false\n}\n",
                QWEN3_BOS, QWEN3_EOS, QWEN3_BOS);
    bad = ferror(f);
    return (fclose(f) != 0) | bad;
}

/* Copies dir/name to out/name; a missing tokenizer_config.json is skipped. */
static int copy_file(const char *dir, const char *out, const char *name, bool required) {
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", out, name);
    if (!required && access(src, F_OK) != 0 && errno == ENOENT) return 0;
    FILE *in = cli_open_input("random-model", src, false);
    if (!in) return 1;
    FILE *o = fopen(dst, "wb");
    int bad = !o;
    char buf[1 << 16];
    for (size_t got; !bad && (got = fread(buf, 1, sizeof buf, in)) > 0;)
        bad = fwrite(buf, 1, got, o) != got;
    bad |= ferror(in);
    fclose(in);
    if (o) bad |= fclose(o) != 0;
    if (bad) fprintf(stderr, "ingot random-model: cannot write %s: %s\n", dst, strerror(errno));
    return bad;
}

/* mkdir -p: creates path and its missing parents; 0, or -1 with errno. */
static int make_dirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

int cli_random_model(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return usage(stdout, 0);
    const char *shape_name = NULL, *tok_dir = NULL, *dtype_name = "bf16", *out = NULL;
    int64_t seed = 0;
    const cli_option opts[] = {
        {"--shape", NULL, CLI_STRING, &shape_name, 0, 0},
        {"--tokenizer", NULL, CLI_STRING, &tok_dir, 0, 0},
        {"--dtype", NULL, CLI_STRING, &dtype_name, 0, 0},
        {"--seed", "-s", CLI_INT, &seed, 0, 9007199254740992.0},
    };
    size_t npos = 0;
    if (cli_parse("random-model", argc, argv, opts, sizeof opts / sizeof *opts, &out, 1, &npos))
        return 2;
    const model_shape *sh = NULL;
    for (size_t i = 0; shape_name && i < sizeof shapes / sizeof *shapes; i++)
        if (!strcmp(shape_name, shapes[i].name)) sh = &shapes[i];
    ingot_dtype dt = !strcmp(dtype_name, "bf16")  ? INGOT_BF16
                     : !strcmp(dtype_name, "f16") ? INGOT_F16
                     : !strcmp(dtype_name, "f32") ? INGOT_F32
                                                  : INGOT_DTYPE_COUNT;
    if (!npos) return cli_usage_error("random-model", "the output folder OUT is required");
    if (!sh)
        return cli_usage_error("random-model", "--shape must be one of the listed shapes, got '%s'",
                               shape_name ? shape_name : "(none)");
    if (dt == INGOT_DTYPE_COUNT)
        return cli_usage_error("random-model", "--dtype must be bf16, f16 or f32, got '%s'",
                               dtype_name);
    if (make_dirs(out)) {
        fprintf(stderr, "ingot random-model: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    if (write_weights(path, sh, dt, (uint64_t)seed)) return 1;
    if (write_config(out, sh, dtype_name)) {
        fprintf(stderr, "ingot random-model: cannot write the config files in %s\n", out);
        return 1;
    }
    if (tok_dir && (copy_file(tok_dir, out, "tokenizer.json", true) ||
                    copy_file(tok_dir, out, "tokenizer_config.json", false)))
        return 1;
    return 0;
}
