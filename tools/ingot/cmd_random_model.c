/* ingot random-model: writes a Hugging Face model folder of the Qwen3
 * architecture with seeded random weights (for the demo and benchmarks). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "options.h"

/* Shapes of ../shared/reference/model-shapes.json (Qwen3 family), and a tiny
 * one with the real vocabulary for the bundled demo. */
typedef struct model_shape {
    const char *name;
    int64_t hidden, intermediate, layers, heads, kv_heads, head_dim, vocab, context;
    bool tied;
} model_shape;

static const model_shape shapes[] = {
    {"qwen3-0.6b", 1024, 3072, 28, 16, 8, 128, 151936, 40960, true},
    {"qwen3-1.7b", 2048, 6144, 28, 16, 8, 128, 151936, 40960, true},
    {"qwen3-8b", 4096, 12288, 36, 32, 8, 128, 151936, 40960, false},
    {"tiny", 64, 192, 2, 4, 2, 32, 151936, 40960, true},
};

/* Qwen3's special tokens: <|endoftext|>, <|im_end|>. */
#define QWEN3_BOS 151643
#define QWEN3_EOS 151645

static int usage(FILE *f, int code) {
    fprintf(f,
            "usage: ingot random-model --shape NAME [--tokenizer DIR] [--dtype D] [--seed S] "
            "OUT\n\n"
            "Writes the folder OUT (created; its parent must exist) holding a Qwen3-architecture\n"
            "model with random weights: config.json, generation_config.json and\n"
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

/* Appends one tensor named name: [d0, d1] N(0, 0.02) from rng, or [d0] ones
 * when d1 is 0 (norms). */
static ingot_status add_tensor(ingot_array **arrays, char **names, size_t *n, ingot_rng *rng,
                               ingot_dtype dtype, const char *name, int64_t d0, int64_t d1) {
    int64_t shape[2] = {d0, d1};
    int ndim = d1 ? 2 : 1;
    names[*n] = strdup(name);
    if (!names[*n]) return INGOT_ERR_OUT_OF_MEMORY;
    ingot_status s = d1 ? ingot_random_normal(&arrays[*n], rng, dtype, shape, ndim, 0.0, 0.02)
                        : ingot_ones(&arrays[*n], dtype, shape, ndim);
    if (s) {
        free(names[*n]);
        return s;
    }
    (*n)++;
    return INGOT_OK;
}

/* Creates every weight of shape sh in a fixed order from the seed. */
static ingot_status make_weights(ingot_array **arrays, char **names, size_t *n,
                                 const model_shape *sh, ingot_dtype dt, uint64_t seed) {
    ingot_rng rng = ingot_rng_seed(seed);
    int64_t h = sh->hidden, q = sh->heads * sh->head_dim, kv = sh->kv_heads * sh->head_dim;
    ingot_status s =
        add_tensor(arrays, names, n, &rng, dt, "model.embed_tokens.weight", sh->vocab, h);
    if (!s) s = add_tensor(arrays, names, n, &rng, dt, "model.norm.weight", h, 0);
    if (!s && !sh->tied) s = add_tensor(arrays, names, n, &rng, dt, "lm_head.weight", sh->vocab, h);
    for (int64_t l = 0; l < sh->layers && !s; l++) {
        const struct {
            const char *suffix;
            int64_t d0, d1;
        } w[] = {
            {"input_layernorm.weight", h, 0},
            {"post_attention_layernorm.weight", h, 0},
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
        for (size_t i = 0; i < sizeof w / sizeof *w && !s; i++) {
            char name[128];
            snprintf(name, sizeof name, "model.layers.%" PRId64 ".%s", l, w[i].suffix);
            s = add_tensor(arrays, names, n, &rng, dt, name, w[i].d0, w[i].d1);
        }
    }
    return s;
}

static int write_config(const char *out, const model_shape *sh, const char *dtype_name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", out);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    const char *torch_dtype = !strcmp(dtype_name, "bf16")  ? "bfloat16"
                              : !strcmp(dtype_name, "f16") ? "float16"
                                                           : "float32";
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
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    snprintf(path, sizeof path, "%s/generation_config.json", out);
    f = bad ? NULL : fopen(path, "w");
    if (!f) return 1;
    fprintf(
        f, "{\n  \"bos_token_id\": %d,\n  \"eos_token_id\": [%d, %d],\n  \"do_sample\": false\n}\n",
        QWEN3_BOS, QWEN3_EOS, QWEN3_BOS);
    bad = ferror(f);
    return (fclose(f) != 0) | bad;
}

/* Copies dir/name to out/name; a missing tokenizer_config.json is skipped. */
static int copy_file(const char *dir, const char *out, const char *name, bool required) {
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", out, name);
    FILE *in = fopen(src, "rb");
    if (!in) {
        if (!required && errno == ENOENT) return 0;
        fprintf(stderr, "ingot random-model: cannot read %s: %s\n", src, strerror(errno));
        return 1;
    }
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
    if (mkdir(out, 0777) && errno != EEXIST) {
        fprintf(stderr, "ingot random-model: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    size_t cap = 3 + 11 * (size_t)sh->layers, n = 0;
    ingot_array **arrays = calloc(cap, sizeof *arrays);
    char **names = calloc(cap, sizeof *names);
    ingot_status s = arrays && names ? make_weights(arrays, names, &n, sh, dt, (uint64_t)seed)
                                     : INGOT_ERR_OUT_OF_MEMORY;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    if (!s)
        s = ingot_safetensors_save(path, (const char *const *)names,
                                   (const ingot_array *const *)arrays, n, mk, mv, 1);
    for (size_t i = 0; i < n; i++) {
        ingot_array_free(arrays[i]);
        free(names[i]);
    }
    free(arrays);
    free(names);
    if (s) return cli_fail("random-model", s);
    if (write_config(out, sh, dtype_name)) {
        fprintf(stderr, "ingot random-model: cannot write the config files in %s\n", out);
        return 1;
    }
    if (tok_dir && (copy_file(tok_dir, out, "tokenizer.json", true) ||
                    copy_file(tok_dir, out, "tokenizer_config.json", false)))
        return 1;
    return 0;
}
