/* Broken model folders: each case writes a tiny Qwen3 / Llama / Gemma 3 folder
 * (config.json from a JSON object built here, model.safetensors with random
 * weights), breaks one thing, and checks that ingot_model_load fails with the
 * right status and a message naming the problem, with nothing leaked (the
 * _asan variant runs under LeakSanitizer). Also forward and KV cache misuse. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/model_folder.h"
#include "common/testutil.h"
#include "ingot/model.h"

/* Qwen3: vocab 32, hidden 16, intermediate 24, 2 layers, 2 heads of 8, 1 kv head. */
static void qwen3(tu_folder *f) {
    memset(f, 0, sizeof *f);
    f->cfg =
        json_pack("{s:s, s:[s], s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:b, s:i}",
                  "model_type", "qwen3", "architectures", "Qwen3ForCausalLM", "vocab_size", 32,
                  "hidden_size", 16, "intermediate_size", 24, "num_hidden_layers", 2,
                  "num_attention_heads", 2, "num_key_value_heads", 1, "head_dim", 8, "rms_norm_eps",
                  1e-6, "rope_theta", 1e6, "tie_word_embeddings", 0, "max_position_embeddings", 64);
    assert_non_null(f->cfg);
    tu_folder_add(f, "model.embed_tokens.weight", 32, 16, INGOT_F32);
    tu_folder_add(f, "model.norm.weight", 16, 0, INGOT_F32);
    tu_folder_add(f, "lm_head.weight", 32, 16, INGOT_F32);
    for (int l = 0; l < 2; l++) {
        static const struct {
            const char *name;
            int64_t d0, d1;
        } w[] = {{"input_layernorm.weight", 16, 0},   {"post_attention_layernorm.weight", 16, 0},
                 {"self_attn.q_proj.weight", 16, 16}, {"self_attn.k_proj.weight", 8, 16},
                 {"self_attn.v_proj.weight", 8, 16},  {"self_attn.o_proj.weight", 16, 16},
                 {"self_attn.q_norm.weight", 8, 0},   {"self_attn.k_norm.weight", 8, 0},
                 {"mlp.gate_proj.weight", 24, 16},    {"mlp.up_proj.weight", 24, 16},
                 {"mlp.down_proj.weight", 16, 24}};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            char name[96];
            snprintf(name, sizeof name, "model.layers.%d.%s", l, w[i].name);
            tu_folder_add(f, name, w[i].d0, w[i].d1, INGOT_F32);
        }
    }
}

static void replace_w(tu_folder *f, const char *name, int64_t d0, int64_t d1, ingot_dtype dt) {
    tu_folder_drop(f, name);
    tu_folder_add(f, name, d0, d1, dt);
}

/* Writes the folder to a fresh directory (path in dir) and frees it. */
static void write_folder(tu_folder *f, char *dir, size_t size, bool weights) {
    tu_folder_path(dir, size);
    tu_folder_write(f, dir, weights);
}

/* Writes the unchanged Qwen3 folder (with its weights or without) to a fresh directory. */
static void write_qwen3(char *dir, size_t size, bool weights) {
    tu_folder f;
    qwen3(&f);
    write_folder(&f, dir, size, weights);
}

/* Writes f and expects loading it to fail with status and needle. */
static void expect_fail(tu_folder *f, ingot_status status, const char *needle) {
    char dir[300];
    write_folder(f, dir, sizeof dir, true);
    ingot_model *m = (ingot_model *)1;
    TU_FAILS(ingot_model_load(&m, dir, NULL), status, needle);
    assert_null(m);
}

static void test_valid_folder_loads(void **state) {
    (void)state;
    char dir[300];
    write_qwen3(dir, sizeof dir, true);
    ingot_model *m;
    TU_OK(ingot_model_load(&m, dir, NULL));
    ingot_model_info info;
    ingot_model_get_info(&info, m);
    assert_string_equal(info.model_type, "qwen3");
    assert_string_equal(info.architecture, "Qwen3ForCausalLM");
    assert_int_equal(info.n_layers, 2);
    assert_int_equal(info.head_dim, 8);
    assert_int_equal(info.dtype, INGOT_F32);
    /* 2 * 32*16 + 16 + 2 * (2*16 + 16*16 + 2*8*16 + 16*16 + 2*8 + 3*24*16) */
    assert_int_equal(info.n_params, 2 * 32 * 16 + 16 + 2 * (32 + 256 + 256 + 256 + 16 + 1152));
    ingot_model_free(m);
    ingot_model_options o = {.dtype = "bf16"};
    TU_OK(ingot_model_load(&m, dir, &o));
    ingot_model_get_info(&info, m);
    assert_int_equal(info.dtype, INGOT_BF16);
    ingot_model_free(m);
}

static void test_config_missing(void **state) {
    (void)state;
    tu_folder f;
    qwen3(&f);
    json_decref(f.cfg);
    f.cfg = NULL;
    expect_fail(&f, INGOT_ERR_NOT_FOUND, "config.json");
}

static void test_config_not_json(void **state) {
    (void)state;
    char dir[300], p[400];
    write_qwen3(dir, sizeof dir, true);
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *fp = fopen(p, "w");
    fputs("{\"model_type\": \"qwen3\",", fp);
    fclose(fp);
    ingot_model *m;
    TU_FAILS(ingot_model_load(&m, dir, NULL), INGOT_ERR_FORMAT, "invalid JSON");
}

/* config.json must be a regular file within INGOT_MODEL_CONFIG_MAX_BYTES
 * (16 MiB): a FIFO fails at once instead of waiting for a writer (the alarm
 * makes a blocked open a failure rather than a hang), a directory is named as
 * one, and a file one byte over the limit fails with LIMIT; at the limit it
 * loads. */
static void test_config_not_regular_or_too_large(void **state) {
    (void)state;
    char dir[300], p[400];
    write_qwen3(dir, sizeof dir, true);
    snprintf(p, sizeof p, "%s/config.json", dir);
    json_t *cfg = json_load_file(p, 0, NULL);
    assert_non_null(cfg);
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    assert_non_null(text);
    ingot_model *m = (ingot_model *)1;
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkfifo(p, 0600), 0);
    alarm(30);
    TU_FAILS(ingot_model_load(&m, dir, NULL), INGOT_ERR_IO, "config.json is a FIFO");
    alarm(0);
    assert_null(m);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkdir(p, 0700), 0);
    TU_FAILS(ingot_model_load(&m, dir, NULL), INGOT_ERR_IO, "config.json is a directory");
    assert_int_equal(rmdir(p), 0);
    /* the config followed by spaces up to the limit, then one byte more */
    size_t limit = (size_t)16 << 20, n = strlen(text);
    char *pad = malloc(limit + 1);
    assert_non_null(pad);
    memset(pad, ' ', limit + 1);
    memcpy(pad, text, n);
    for (size_t size = limit; size <= limit + 1; size++) {
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(pad, 1, size, f), size);
        assert_int_equal(fclose(f), 0);
        if (size == limit) {
            TU_OK(ingot_model_load(&m, dir, NULL));
            ingot_model_free(m);
        } else {
            TU_FAILS(ingot_model_load(&m, dir, NULL), INGOT_ERR_LIMIT,
                     "config.json is 16777217 bytes, over the limit of 16 MiB");
        }
    }
    free(pad);
    free(text);
}

/* One config edit per case: key set to value (NULL: removed). */
static void config_case(const char *key, json_t *value, ingot_status status, const char *needle) {
    tu_folder f;
    qwen3(&f);
    if (value)
        json_object_set_new(f.cfg, key, value);
    else
        json_object_del(f.cfg, key);
    expect_fail(&f, status, needle);
}

static void test_config_keys(void **state) {
    (void)state;
    config_case("hidden_size", NULL, INGOT_ERR_FORMAT, "'hidden_size' is missing");
    config_case("model_type", NULL, INGOT_ERR_FORMAT, "'model_type' is missing");
    config_case("num_hidden_layers", NULL, INGOT_ERR_FORMAT, "'num_hidden_layers' is missing");
    config_case("vocab_size", NULL, INGOT_ERR_FORMAT, "'vocab_size' is missing");
    config_case("model_type", json_string("mamba"), INGOT_ERR_UNSUPPORTED, "'mamba'");
    config_case("hidden_size", json_string("16"), INGOT_ERR_FORMAT, "'hidden_size' must be");
    config_case("num_key_value_heads", json_integer(3), INGOT_ERR_FORMAT, "not a multiple");
    config_case("hidden_act", json_string("relu"), INGOT_ERR_UNSUPPORTED, "'relu'");
    config_case("rms_norm_eps", json_integer(-1), INGOT_ERR_FORMAT, "'rms_norm_eps'");
    config_case("rope_scaling", json_pack("{s:s, s:f}", "rope_type", "yarn", "factor", 4.0),
                INGOT_ERR_UNSUPPORTED, "'yarn'");
    config_case("rope_scaling", json_pack("{s:s, s:f}", "rope_type", "llama3", "factor", 8.0),
                INGOT_ERR_FORMAT, "low_freq_factor");
    config_case("layer_types", json_pack("[s]", "full_attention"), INGOT_ERR_FORMAT,
                "'layer_types'");
    config_case("layer_types", json_pack("[s, s]", "full_attention", "sliding_attention"),
                INGOT_ERR_FORMAT, "'sliding_window'");
    config_case("rope_parameters", json_string("x"), INGOT_ERR_FORMAT, "'rope_parameters'");
    config_case("head_dim", json_integer(7), INGOT_ERR_FORMAT, "head_dim");
}

static void test_vocab_mismatch(void **state) {
    (void)state;
    config_case("vocab_size", json_integer(40), INGOT_ERR_FORMAT,
                "'model.embed_tokens.weight' has shape (32,16), expected (40,16)");
}

static void test_weights_missing(void **state) {
    (void)state;
    char dir[300];
    write_qwen3(dir, sizeof dir, false);
    ingot_model *m;
    TU_FAILS(ingot_model_load(&m, dir, NULL), INGOT_ERR_NOT_FOUND, NULL);
}

static void test_tensor_missing(void **state) {
    (void)state;
    tu_folder f;
    qwen3(&f);
    tu_folder_drop(&f, "model.layers.1.self_attn.q_proj.weight");
    expect_fail(&f, INGOT_ERR_NOT_FOUND, "'model.layers.1.self_attn.q_proj.weight' is missing");
    qwen3(&f);
    tu_folder_drop(&f, "lm_head.weight");
    expect_fail(&f, INGOT_ERR_NOT_FOUND, "'lm_head.weight' is missing");
    qwen3(&f);
    tu_folder_drop(&f, "model.layers.0.self_attn.k_norm.weight");
    expect_fail(&f, INGOT_ERR_NOT_FOUND, "k_norm");
}

static void test_tensor_shape_dtype(void **state) {
    (void)state;
    tu_folder f;
    qwen3(&f);
    replace_w(&f, "model.layers.0.mlp.down_proj.weight", 24, 16, INGOT_F32);
    expect_fail(&f, INGOT_ERR_FORMAT,
                "'model.layers.0.mlp.down_proj.weight' has shape (24,16), "
                "expected (16,24)");
    qwen3(&f);
    replace_w(&f, "model.norm.weight", 16, 1, INGOT_F32);
    expect_fail(&f, INGOT_ERR_FORMAT, "has shape (16,1), expected (16)");
    qwen3(&f);
    replace_w(&f, "model.layers.1.mlp.up_proj.weight", 24, 16, INGOT_I32);
    expect_fail(&f, INGOT_ERR_FORMAT, "dtype I32");
    qwen3(&f);
    replace_w(&f, "model.layers.1.mlp.up_proj.weight", 24, 16, INGOT_F16);
    expect_fail(&f, INGOT_ERR_FORMAT, "is f16 but the model's weights are f32");
}

static void test_truncated_weights(void **state) {
    (void)state;
    char dir[300], p[400];
    write_qwen3(dir, sizeof dir, true);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size - 100), 0);
    ingot_model *m;
    TU_FAILS(ingot_model_load(&m, dir, NULL), INGOT_ERR_FORMAT, "model.safetensors");
}

/* The folder's weights split over two shards with an index. */
static void write_sharded(char *dir, size_t size, bool drop_second) {
    tu_folder f;
    write_qwen3(dir, size, false);
    qwen3(&f);
    json_decref(f.cfg);
    f.cfg = NULL;
    char p[400];
    const char *names[TU_FOLDER_MAX];
    json_t *map = json_object();
    for (int i = 0; i < f.n; i++) {
        names[i] = f.names[i];
        json_object_set_new(map, f.names[i],
                            json_string(i < 10 ? "a.safetensors" : "b.safetensors"));
    }
    snprintf(p, sizeof p, "%s/a.safetensors", dir);
    TU_OK(
        ingot_safetensors_save(p, names, (const ingot_array *const *)f.arrays, 10, NULL, NULL, 0));
    snprintf(p, sizeof p, "%s/b.safetensors", dir);
    if (!drop_second)
        TU_OK(ingot_safetensors_save(p, names + 10, (const ingot_array *const *)f.arrays + 10,
                                     (size_t)f.n - 10, NULL, NULL, 0));
    json_t *index = json_pack("{s:{}, s:o}", "metadata", "weight_map", map);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    assert_int_equal(json_dump_file(index, p, 0), 0);
    json_decref(index);
    for (int i = 0; i < f.n; i++)
        ingot_array_free(f.arrays[i]);
}

static void test_sharded(void **state) {
    (void)state;
    char dir[300];
    write_sharded(dir, sizeof dir, false);
    ingot_model *m;
    TU_OK(ingot_model_load(&m, dir, NULL));
    ingot_model_free(m);
    write_sharded(dir, sizeof dir, true);
    TU_FAILS(ingot_model_load(&m, dir, NULL), INGOT_ERR_NOT_FOUND, "b.safetensors");
}

/* A shard linked from outside the folder is refused (safetensors.h,
 * "Links"); moved into the folder and linked from there, it loads. */
static void test_shard_link_outside(void **state) {
    (void)state;
    char dir[300], shard[400], outside[400];
    write_sharded(dir, sizeof dir, false);
    snprintf(shard, sizeof shard, "%s/b.safetensors", dir);
    snprintf(outside, sizeof outside, "%s.b.safetensors", dir);
    assert_int_equal(rename(shard, outside), 0);
    assert_int_equal(symlink(outside, shard), 0);
    ingot_model *m = (ingot_model *)1;
    TU_FAILS(ingot_model_load(&m, dir, NULL), INGOT_ERR_FORMAT, "outside the model folder");
    assert_null(m);
    char inside[400];
    snprintf(inside, sizeof inside, "%s/b.bin", dir);
    assert_int_equal(rename(outside, inside), 0);
    assert_int_equal(unlink(shard), 0);
    assert_int_equal(symlink("b.bin", shard), 0);
    TU_OK(ingot_model_load(&m, dir, NULL));
    ingot_model_free(m);
}

static void test_gemma3_multimodal_without_text_config(void **state) {
    (void)state;
    tu_folder f;
    qwen3(&f);
    json_object_set_new(f.cfg, "model_type", json_string("gemma3"));
    expect_fail(&f, INGOT_ERR_FORMAT, "'text_config'");
}

static void test_bad_options(void **state) {
    (void)state;
    char dir[300];
    write_qwen3(dir, sizeof dir, true);
    ingot_model *m;
    ingot_model_options o = {.dtype = "f64"};
    TU_FAILS(ingot_model_load(&m, dir, &o), INGOT_ERR_INVALID_ARGUMENT, "'f64'");
    TU_FAILS(ingot_model_load(NULL, dir, NULL), INGOT_ERR_INVALID_ARGUMENT, NULL);
    TU_FAILS(ingot_model_load(&m, NULL, NULL), INGOT_ERR_INVALID_ARGUMENT, NULL);
}

static void test_forward_and_cache_errors(void **state) {
    (void)state;
    char dir[300];
    write_qwen3(dir, sizeof dir, true);
    ingot_model *m;
    TU_OK(ingot_model_load(&m, dir, NULL));
    int64_t shape[2] = {1, 3};
    int32_t bad[3] = {1, 32, 2}, good[3] = {1, 2, 3};
    ingot_array *ids, *ids_ok, *logits;
    TU_OK(ingot_array_from_data(&ids, bad, INGOT_I32, shape, 2));
    TU_OK(ingot_array_from_data(&ids_ok, good, INGOT_I32, shape, 2));
    TU_FAILS(ingot_model_forward(&logits, m, ids, NULL, NULL), INGOT_ERR_INDEX,
             "token id 32 at (0,1)");
    ingot_kv_cache *c;
    TU_OK(ingot_kv_cache_new(&c, m, 2, 4));
    TU_FAILS(ingot_model_forward(&logits, m, ids_ok, c, NULL), INGOT_ERR_INVALID_ARGUMENT, "batch");
    ingot_kv_cache_free(c);
    TU_OK(ingot_kv_cache_new(&c, m, 1, 4));
    TU_OK(ingot_model_forward(&logits, m, ids_ok, c, NULL));
    ingot_array_free(logits);
    TU_FAILS(ingot_model_forward(&logits, m, ids_ok, c, NULL), INGOT_ERR_LIMIT, "capacity of 4");
    assert_int_equal(ingot_kv_cache_length(c), 3);
    ingot_array *short_mask;
    TU_OK(ingot_slice_axis(&short_mask, ids_ok, 1, 0, 2));
    ingot_forward_options o = {.attention_mask = short_mask};
    TU_FAILS(ingot_model_forward(&logits, m, ids_ok, NULL, &o), INGOT_ERR_SHAPE,
             "attention_mask must be [B, cache length + T] = [1, 3]");
    ingot_array_free(short_mask);
    TU_FAILS(ingot_kv_cache_trim(c, 4), INGOT_ERR_INVALID_ARGUMENT, "outside");
    char p[400];
    snprintf(p, sizeof p, "%s/cache.safetensors", dir);
    TU_OK(ingot_kv_cache_save(c, p));
    ingot_kv_cache_free(c);

    /* a cache file for another model shape */
    tu_folder g;
    qwen3(&g);
    json_object_set_new(g.cfg, "num_hidden_layers", json_integer(1));
    tu_folder_drop(&g, "model.layers.1.input_layernorm.weight");
    char dir2[300];
    write_folder(&g, dir2, sizeof dir2, true);
    ingot_model *m2;
    TU_OK(ingot_model_load(&m2, dir2, NULL));
    TU_FAILS(ingot_kv_cache_load(&c, m2, p), INGOT_ERR_FORMAT, "'n_layers' is '2'");
    ingot_model_free(m2);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    TU_FAILS(ingot_kv_cache_load(&c, m, p), INGOT_ERR_FORMAT, "'format' is missing");
    /* the saved cache with its length changed: tensors no longer fit */
    snprintf(p, sizeof p, "%s/cache.safetensors", dir);
    ingot_safetensors *st;
    TU_OK(ingot_safetensors_open(&st, p));
    const char *keys[16], *vals[16], *names[8];
    ingot_array *arrays[8];
    size_t nm = ingot_safetensors_metadata_count(st), nt = ingot_safetensors_count(st);
    assert_true(nm <= 16 && nt <= 8);
    for (size_t i = 0; i < nm; i++) {
        keys[i] = ingot_safetensors_metadata_key(st, i);
        vals[i] = strcmp(keys[i], "length") ? ingot_safetensors_metadata_value(st, i) : "2";
    }
    for (size_t i = 0; i < nt; i++) {
        names[i] = ingot_safetensors_name(st, i);
        TU_OK(ingot_safetensors_get(&arrays[i], st, names[i]));
    }
    snprintf(p, sizeof p, "%s/cache2.safetensors", dir);
    TU_OK(ingot_safetensors_save(p, names, (const ingot_array *const *)arrays, nt, keys, vals, nm));
    for (size_t i = 0; i < nt; i++)
        ingot_array_free(arrays[i]);
    ingot_safetensors_close(st);
    TU_FAILS(ingot_kv_cache_load(&c, m, p), INGOT_ERR_FORMAT,
             "tensor 'layers.0.k' f32 (1,1,3,8) does not fit the model and a cache of 2 tokens");
    ingot_array_free(ids);
    ingot_array_free(ids_ok);
    ingot_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_folder_loads),
        cmocka_unit_test(test_config_missing),
        cmocka_unit_test(test_config_not_json),
        cmocka_unit_test(test_config_not_regular_or_too_large),
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_vocab_mismatch),
        cmocka_unit_test(test_weights_missing),
        cmocka_unit_test(test_tensor_missing),
        cmocka_unit_test(test_tensor_shape_dtype),
        cmocka_unit_test(test_truncated_weights),
        cmocka_unit_test(test_shard_link_outside),
        cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_gemma3_multimodal_without_text_config),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_forward_and_cache_errors),
    };
    return cmocka_run_group_tests(tests, tu_folder_setup, tu_folder_teardown);
}
