/* Tests of safetensors loading and saving. Every file is written byte by byte
 * from literal header strings here, in a mkdtemp directory removed at the end,
 * so the expectations do not depend on the parser under test. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/internal.h"

static char g_dir[256];

/* ---- file helpers ---- */

static const char *tpath(char *buf, size_t size, const char *rel) {
    snprintf(buf, size, "%s/%s", g_dir, rel);
    return buf;
}

static void write_raw(const char *rel, const void *data, size_t len) {
    char p[512];
    FILE *f = fopen(tpath(p, sizeof p, rel), "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *rel) {
    char p[512];
    assert_int_equal(mkdir(tpath(p, sizeof p, rel), 0777), 0);
}

/* A file image: the 8-byte little-endian length of header (plus pad spaces),
 * the header, pad spaces, then dlen data bytes (zeros when data is NULL). */
static unsigned char *image(size_t *len, const char *header, size_t pad, const void *data,
                            size_t dlen) {
    size_t h = strlen(header) + pad;
    unsigned char *buf = calloc(1, 8 + h + dlen + 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, strlen(header));
    memset(buf + 8 + strlen(header), ' ', pad);
    if (data) memcpy(buf + 8 + h, data, dlen);
    *len = 8 + h + dlen;
    return buf;
}

static void write_st(const char *rel, const char *header, size_t pad, const void *data,
                     size_t dlen) {
    size_t len;
    unsigned char *buf = image(&len, header, pad, data, dlen);
    write_raw(rel, buf, len);
    free(buf);
}

static ingot_safetensors *open_ok(const char *rel) {
    char p[512];
    ingot_safetensors *st = NULL;
    TU_OK(ingot_safetensors_open(&st, tpath(p, sizeof p, rel)));
    assert_non_null(st);
    return st;
}

static unsigned char *read_all(const char *rel, size_t *len) {
    char p[512];
    FILE *f = fopen(tpath(p, sizeof p, rel), "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Asserts a has dtype and shape and exactly the n bytes want. */
static void assert_bytes(const ingot_array *a, ingot_dtype dtype, const int64_t *shape, int ndim,
                         const void *want, size_t n) {
    tu_assert_shape(a, dtype, shape, ndim);
    assert_int_equal(ingot_array_nbytes(a), n);
    unsigned char *got = malloc(n + 1);
    assert_non_null(got);
    TU_OK(ingot_array_to_host(got, n, dtype, a));
    if (n) assert_memory_equal(got, want, n);
    free(got);
}

static void get_bytes(const ingot_safetensors *st, const char *name, ingot_dtype dtype,
                      const int64_t *shape, int ndim, const void *want, size_t n) {
    ingot_array *a = NULL;
    TU_OK(ingot_safetensors_get(&a, st, name));
    assert_bytes(a, dtype, shape, ndim, want, n);
    ingot_array_free(a);
}

/* Whether the file rel is mapped into this process (per /proc/self/maps). */
static bool is_mapped(const char *rel) {
    char p[512], line[1024];
    tpath(p, sizeof p, rel);
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, p) != NULL;
    fclose(f);
    return found;
}

static int group_setup(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ingot_st_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    /* resolved, so that paths match /proc/self/maps (see is_mapped) */
    char *real = realpath(g_dir, NULL);
    if (!real || strlen(real) >= sizeof g_dir) return -1;
    strcpy(g_dir, real);
    free(real);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    return tu_remove_tree(g_dir);
}

/* ---- malformed single files: each fails open and open_memory ---- */

typedef struct bad_case {
    const char *name;
    const char *header; /* NULL: raw is the whole file */
    size_t data_len;    /* zero bytes after the header */
    const unsigned char *raw;
    size_t raw_len;
    ingot_status status;
    const char *needle;
} bad_case;

#define F32_2 "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"
#define HDR(body) "{" body "}"
#define BAD(name, header, dlen, status, needle)                                                    \
    { name, header, dlen, NULL, 0, status, needle }
#define BAD_RAW(name, bytes, status, needle)                                                       \
    { name, NULL, 0, bytes, sizeof bytes, status, needle }

static const unsigned char raw_empty[1] = {0};
static const unsigned char raw_seven[7] = {2, 0, 0, 0, 0, 0, 0};
static const unsigned char raw_len_past_end[] = {9, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' '};
static const unsigned char raw_len_over_limit[] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'};
static const unsigned char raw_len_max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const unsigned char raw_len_zero[] = {0, 0, 0, 0, 0, 0, 0, 0};
static const unsigned char raw_nul_pad[] = {4, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, 0};
static const unsigned char raw_nul_in_name[] = {10,  0,   0, 0,   0,   0,   0,   0,   '{',
                                                '"', 'a', 0, '"', ':', '{', '}', '}', ' '};

static const bad_case bad_cases[] = {
    /* framing */
    {"empty_file", NULL, 0, raw_empty, 0, INGOT_ERR_FORMAT, "0 bytes, too small"},
    BAD_RAW("seven_bytes", raw_seven, INGOT_ERR_FORMAT, "7 bytes, too small"),
    BAD_RAW("header_len_past_end", raw_len_past_end, INGOT_ERR_FORMAT,
            "header length 9 runs past the end of the 11-byte file"),
    BAD_RAW("header_len_over_100MB", raw_len_over_limit, INGOT_ERR_LIMIT,
            "header length 100000001 exceeds the limit"),
    BAD_RAW("header_len_u64_max", raw_len_max, INGOT_ERR_LIMIT, "exceeds the limit"),
    BAD_RAW("header_len_zero", raw_len_zero, INGOT_ERR_FORMAT, "does not start with '{'"),
    BAD_RAW("header_nul_padding", raw_nul_pad, INGOT_ERR_FORMAT, "not valid JSON"),
    BAD_RAW("raw_nul_in_name", raw_nul_in_name, INGOT_ERR_FORMAT, "not valid JSON"),
    /* text */
    BAD("not_utf8", "{\"a\xff\":" F32_2 "}", 8, INGOT_ERR_FORMAT,
        "not valid UTF-8 (header byte 3)"),
    BAD("overlong_utf8", "{\"\xc0\xaf\":" F32_2 "}", 8, INGOT_ERR_FORMAT, "not valid UTF-8"),
    BAD("surrogate_utf8", "{\"\xed\xa0\x80\":" F32_2 "}", 8, INGOT_ERR_FORMAT, "not valid UTF-8"),
    BAD("truncated_utf8", "{\"a\":" F32_2 "}\xe2\x82", 8, INGOT_ERR_FORMAT, "not valid UTF-8"),
    BAD("not_json", "{dtype: F32}", 0, INGOT_ERR_FORMAT, "not valid JSON"),
    BAD("truncated_json", "{\"a\":{\"dtype\":\"F32\"", 0, INGOT_ERR_FORMAT, "not valid JSON"),
    BAD("leading_space", " {}", 0, INGOT_ERR_FORMAT, "does not start with '{'"),
    BAD("array_root", "[{\"a\":1}]", 0, INGOT_ERR_FORMAT, "does not start with '{'"),
    BAD("string_root", "\"{}\"", 0, INGOT_ERR_FORMAT, "does not start with '{'"),
    BAD("trailing_garbage", "{} x", 0, INGOT_ERR_FORMAT, "not valid JSON"),
    BAD("two_objects", "{}{}", 0, INGOT_ERR_FORMAT, "not valid JSON"),
    BAD("escaped_nul_name", "{\"a\\u0000b\":" F32_2 "}", 8, INGOT_ERR_FORMAT, "not valid JSON"),
    BAD("lone_surrogate_escape", "{\"\\ud800\":" F32_2 "}", 8, INGOT_ERR_FORMAT, "not valid JSON"),
    /* entries */
    BAD("duplicate_tensor", "{\"a\":" F32_2 ",\"a\":" F32_2 "}", 8, INGOT_ERR_FORMAT, "duplicate"),
    BAD("duplicate_field",
        "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "duplicate"),
    BAD("duplicate_metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, INGOT_ERR_FORMAT,
        "duplicate"),
    BAD("missing_dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, INGOT_ERR_FORMAT,
        "tensor 'w': missing field 'dtype'"),
    BAD("missing_shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, INGOT_ERR_FORMAT,
        "tensor 'w': missing field 'shape'"),
    BAD("missing_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, INGOT_ERR_FORMAT,
        "tensor 'w': missing field 'data_offsets'"),
    BAD("extra_field",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"order\":\"C\"}}", 8,
        INGOT_ERR_FORMAT, "tensor 'w': unknown field 'order'"),
    BAD("entry_not_object", "{\"w\":[1,2]}", 0, INGOT_ERR_FORMAT,
        "tensor 'w': entry is not a JSON object"),
    BAD("empty_name", "{\"\":" F32_2 "}", 8, INGOT_ERR_FORMAT, "empty name"),
    BAD("unknown_dtype", "{\"w\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "tensor 'w': unknown dtype 'F128'"),
    BAD("lowercase_dtype", "{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "unknown dtype 'f32'"),
    BAD("dtype_not_string", "{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "dtype is not a string"),
    BAD("shape_negative", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "shape entry 0 is not a non-negative integer"),
    BAD("shape_negative_zero",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-0],\"data_offsets\":[0,0]}}", 0, INGOT_ERR_FORMAT,
        "-0"),
    BAD("shape_float", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "shape entry 0 is not a non-negative integer"),
    BAD("shape_exponent", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,2e0],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "shape entry 1 is not a non-negative integer"),
    BAD("shape_string", "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "shape entry 0"),
    BAD("shape_null", "{\"w\":{\"dtype\":\"F32\",\"shape\":null,\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "shape is not a JSON array"),
    BAD("shape_beyond_int64",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "not valid JSON"),
    BAD("shape_product_overflow",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "tensor 'w': shape (4294967296,4294967296) of F32 overflows"),
    BAD("byte_size_overflow",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8,
        INGOT_ERR_FORMAT, "overflows"),
    BAD("overflow_before_zero_dim",
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0,
        INGOT_ERR_FORMAT, "overflows"),
    BAD("fractional_bytes", "{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2,
        INGOT_ERR_FORMAT, "shape (3) of F4 is not a whole number of bytes"),
    /* offsets */
    BAD("offsets_one_entry", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8,
        INGOT_ERR_FORMAT, "data_offsets is not an array of two non-negative integers"),
    BAD("offsets_three_entries",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, INGOT_ERR_FORMAT,
        "data_offsets is not an array of two"),
    BAD("offsets_negative", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[-1,-1]}}", 0,
        INGOT_ERR_FORMAT, "data_offsets is not an array of two non-negative integers"),
    BAD("offsets_object",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"begin\":0,\"end\":8}}}", 8,
        INGOT_ERR_FORMAT, "data_offsets is not an array"),
    BAD("offsets_reversed", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
        INGOT_ERR_FORMAT, "tensor 'w': data_offsets [8,0] end before they begin"),
    BAD("size_mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12,
        INGOT_ERR_FORMAT,
        "tensor 'w': data_offsets [0,12] hold 12 bytes but shape (2,2) of F32 needs 16"),
    BAD("overlap",
        "{\"a\":" F32_2 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
        INGOT_ERR_FORMAT, "tensor 'b': data_offsets [4,12] overlap tensor 'a', which ends at 8"),
    BAD("same_offsets_twice", "{\"a\":" F32_2 ",\"b\":" F32_2 "}", 8, INGOT_ERR_FORMAT,
        "overlap tensor"),
    BAD("hole",
        "{\"a\":" F32_2 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20,
        INGOT_ERR_FORMAT, "data bytes [8,12) belong to no tensor (tensor 'b' starts at 12)"),
    BAD("not_starting_at_zero", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        12, INGOT_ERR_FORMAT, "data bytes [0,4) belong to no tensor"),
    BAD("data_short_of_file_end", "{\"w\":" F32_2 "}", 9, INGOT_ERR_FORMAT,
        "the tensors end at data byte 8 but the data section holds 9 bytes (1 trailing"),
    BAD("data_past_file_end", "{\"w\":" F32_2 "}", 7, INGOT_ERR_FORMAT,
        "tensor 'w' ends at data byte 8, past the end of the file"),
    BAD("no_tensors_but_data", "{}", 4, INGOT_ERR_FORMAT, "4 trailing bytes"),
    /* metadata */
    BAD("metadata_number", "{\"__metadata__\":{\"n\":1}}", 0, INGOT_ERR_FORMAT,
        "__metadata__ entry 'n' is not a string"),
    BAD("metadata_nested", "{\"__metadata__\":{\"n\":{\"a\":\"b\"}}}", 0, INGOT_ERR_FORMAT,
        "__metadata__ entry 'n' is not a string"),
    BAD("metadata_null_value", "{\"__metadata__\":{\"n\":null}}", 0, INGOT_ERR_FORMAT,
        "entry 'n' is not a string"),
    BAD("metadata_array", "{\"__metadata__\":[\"a\"]}", 0, INGOT_ERR_FORMAT,
        "__metadata__ is not a JSON object"),
    BAD("metadata_null", "{\"__metadata__\":null}", 0, INGOT_ERR_FORMAT,
        "__metadata__ is not a JSON object"),
};
#define N_BAD (sizeof bad_cases / sizeof bad_cases[0])

static void test_bad_file(void **state) {
    const bad_case *c = *state;
    unsigned char *buf;
    size_t len;
    if (c->header) {
        buf = image(&len, c->header, 0, NULL, c->data_len);
    } else {
        len = c->raw_len;
        buf = malloc(len + 1);
        assert_non_null(buf);
        if (len) memcpy(buf, c->raw, len);
    }
    char rel[128], p[512];
    snprintf(rel, sizeof rel, "%s.safetensors", c->name);
    write_raw(rel, buf, len);
    ingot_safetensors *st = (ingot_safetensors *)&st; /* must be reset to NULL */
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, rel)), c->status, c->needle);
    assert_null(st);
    assert_non_null(strstr(ingot_last_error(), rel)); /* the message names the file */
    assert_false(is_mapped(rel));                     /* and nothing stays mapped */
    st = (ingot_safetensors *)&st;
    TU_FAILS(ingot_safetensors_open_memory(&st, buf, len, c->name), c->status, c->needle);
    assert_null(st);
    assert_non_null(strstr(ingot_last_error(), c->name));
    free(buf);
}

/* ---- malformed sharded models ---- */

typedef struct shard_spec {
    const char *file;
    const char *header;
    size_t data_len;
} shard_spec;

typedef struct index_case {
    const char *name;
    const char *index; /* written as model.safetensors.index.json */
    shard_spec shards[3];
    ingot_status status;
    const char *needle;
} index_case;

#define IDX(map) "{\"metadata\":{\"total_size\":16},\"weight_map\":" map "}"
#define SHARD_A                                                                                    \
    { "a.safetensors", "{\"a\":" F32_2 "}", 8 }
#define SHARD_B                                                                                    \
    { "b.safetensors", "{\"b\":" F32_2 "}", 8 }
#define SHARD_AB                                                                                   \
    {                                                                                              \
        "b.safetensors",                                                                           \
            "{\"a\":" F32_2 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",   \
            16                                                                                     \
    }

static const index_case index_cases[] = {
    {"idx_dotdot",
     IDX("{\"a\":\"../a.safetensors\"}"),
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "weight_map entry 'a': shard path '../a.safetensors' has a '..' component"},
    {"idx_dotdot_inner",
     IDX("{\"a\":\"x/../../a.safetensors\"}"),
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "has a '..' component"},
    {"idx_dotdot_last",
     IDX("{\"a\":\"x/..\"}"),
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "has a '..' component"},
    {"idx_absolute",
     IDX("{\"a\":\"/etc/passwd\"}"),
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "shard path '/etc/passwd' is absolute"},
    {"idx_empty_path", IDX("{\"a\":\"\"}"), {SHARD_A}, INGOT_ERR_FORMAT, "shard path '' is empty"},
    {"idx_nul_path",
     IDX("{\"a\":\"a.safetensors\\u0000x\"}"),
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "not valid JSON"},
    {"idx_missing_shard",
     IDX("{\"a\":\"a.safetensors\",\"b\":\"missing.safetensors\"}"),
     {SHARD_A},
     INGOT_ERR_NOT_FOUND,
     "missing.safetensors: cannot open"},
    {"idx_tensor_in_two_shards",
     IDX("{\"a\":\"a.safetensors\",\"b\":\"b.safetensors\"}"),
     {SHARD_A, SHARD_AB},
     INGOT_ERR_FORMAT,
     "tensor 'a' is in two shards"},
    {"idx_tensor_missing_from_shard",
     IDX("{\"a\":\"a.safetensors\",\"b\":\"b.safetensors\",\"c\":\"b.safetensors\"}"),
     {SHARD_A, SHARD_B},
     INGOT_ERR_FORMAT,
     "weight_map places tensor 'c' in 'b.safetensors', which does not hold it"},
    {"idx_tensor_not_in_map",
     IDX("{\"a\":\"b.safetensors\"}"),
     {SHARD_AB},
     INGOT_ERR_FORMAT,
     "tensor 'b' in "},
    {"idx_tensor_in_wrong_shard",
     IDX("{\"a\":\"b.safetensors\",\"b\":\"a.safetensors\"}"),
     {SHARD_A, SHARD_B},
     INGOT_ERR_FORMAT,
     "but the weight_map places it in 'b.safetensors'"},
    {"idx_weight_map_array",
     "{\"weight_map\":[\"a.safetensors\"]}",
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "weight_map is not a JSON object"},
    {"idx_no_weight_map",
     "{\"metadata\":{}}",
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "index has no weight_map"},
    {"idx_unknown_key",
     "{\"weight_map\":{},\"shards\":[]}",
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "index has unknown key 'shards'"},
    {"idx_map_value_number",
     IDX("{\"a\":1}"),
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "weight_map entry 'a' is not a string"},
    {"idx_empty_tensor_name",
     IDX("{\"\":\"a.safetensors\"}"),
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "weight_map has an empty tensor name"},
    {"idx_not_json", "{\"weight_map\":", {SHARD_A}, INGOT_ERR_FORMAT, "index is not valid JSON"},
    {"idx_root_array", "[]", {SHARD_A}, INGOT_ERR_FORMAT, "index is not a JSON object"},
    {"idx_duplicate_key",
     "{\"weight_map\":{\"a\":\"a.safetensors\",\"a\":\"a.safetensors\"}}",
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "duplicate"},
    {"idx_metadata_nested",
     "{\"metadata\":{\"x\":[1]},\"weight_map\":{}}",
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "metadata entry 'x' is not a string, number or boolean"},
    {"idx_metadata_not_object",
     "{\"metadata\":\"x\",\"weight_map\":{}}",
     {SHARD_A},
     INGOT_ERR_FORMAT,
     "metadata is not a JSON object"},
    {"idx_bad_shard",
     IDX("{\"a\":\"a.safetensors\",\"b\":\"b.safetensors\"}"),
     {SHARD_A, {"b.safetensors", "{\"b\":" F32_2 "}", 4}},
     INGOT_ERR_FORMAT,
     "b.safetensors: tensor 'b' ends at data byte 8, past the end of the file"},
};
#define N_INDEX (sizeof index_cases / sizeof index_cases[0])

static void test_bad_index(void **state) {
    const index_case *c = *state;
    char rel[256], p[512];
    make_dir(c->name);
    for (int i = 0; i < 3 && c->shards[i].file; i++) {
        snprintf(rel, sizeof rel, "%s/%s", c->name, c->shards[i].file);
        write_st(rel, c->shards[i].header, 0, NULL, c->shards[i].data_len);
    }
    snprintf(rel, sizeof rel, "%s/model.safetensors.index.json", c->name);
    write_raw(rel, c->index, strlen(c->index));
    ingot_safetensors *st = (ingot_safetensors *)&st;
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, c->name)), c->status, c->needle);
    assert_null(st);
    st = (ingot_safetensors *)&st;
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, rel)), c->status, c->needle);
    assert_null(st);
}

/* ---- other failures ---- */

static void test_open_errors(void **state) {
    (void)state;
    char p[512];
    ingot_safetensors *st = NULL;
    TU_FAILS(ingot_safetensors_open(NULL, "x"), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
    TU_FAILS(ingot_safetensors_open(&st, NULL), INGOT_ERR_INVALID_ARGUMENT, "path is NULL");
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, "nope.safetensors")),
             INGOT_ERR_NOT_FOUND, "nope.safetensors: cannot open: No such file");
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, "nope/index.json")),
             INGOT_ERR_NOT_FOUND, "No such file");
    make_dir("emptydir");
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, "emptydir")), INGOT_ERR_NOT_FOUND,
             "neither model.safetensors nor model.safetensors.index.json");
    make_dir("dir.safetensors.d");
    make_dir("dir.safetensors.d/model.safetensors");
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, "dir.safetensors.d")), INGOT_ERR_IO,
             "not a regular file");
    assert_int_equal(mkfifo(tpath(p, sizeof p, "fifo.safetensors"), 0600), 0);
    TU_FAILS(ingot_safetensors_open(&st, p), INGOT_ERR_IO, "fifo.safetensors: not a regular file");
    assert_int_equal(mkfifo(tpath(p, sizeof p, "fifo.json"), 0600), 0);
    TU_FAILS(ingot_safetensors_open(&st, p), INGOT_ERR_IO, "fifo.json is a FIFO, not a regular file");
    assert_null(st);
    TU_FAILS(ingot_safetensors_open_memory(NULL, "", 0, NULL), INGOT_ERR_INVALID_ARGUMENT,
             "out is NULL");
    TU_FAILS(ingot_safetensors_open_memory(&st, NULL, 8, NULL), INGOT_ERR_INVALID_ARGUMENT,
             "data is NULL");
    TU_FAILS(ingot_safetensors_open_memory(&st, NULL, 0, NULL), INGOT_ERR_FORMAT,
             "<memory>: file is 0 bytes");
    assert_null(st);
}

static void test_get_errors(void **state) {
    (void)state;
    /* F64 [1] at 0, a 9-dim U8 at 8, BOOL [3] holding a 2 at 10 */
    static const unsigned char data[13] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 1, 2, 1, 2, 0};
    write_st("get_errors.safetensors",
             "{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
             "\"nine\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[8,10]},"
             "\"m\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[10,13]}}",
             0, data, sizeof data);
    ingot_safetensors *st = open_ok("get_errors.safetensors");
    ingot_array *a = (ingot_array *)&a;
    TU_FAILS(ingot_safetensors_get(&a, st, "d"), INGOT_ERR_UNSUPPORTED,
             "get_errors.safetensors: tensor 'd' has dtype F64, which ingot arrays do not "
             "support");
    assert_null(a);
    TU_FAILS(ingot_safetensors_get(&a, st, "nine"), INGOT_ERR_UNSUPPORTED,
             "tensor 'nine' has 9 dims; ingot arrays hold at most 8");
    TU_FAILS(ingot_safetensors_get(&a, st, "m"), INGOT_ERR_FORMAT,
             "tensor 'm': BOOL element 1 is 2, not 0 or 1");
    TU_FAILS(ingot_safetensors_get(&a, st, "x"), INGOT_ERR_NOT_FOUND, "no tensor named 'x'");
    TU_FAILS(ingot_safetensors_get(&a, NULL, "x"), INGOT_ERR_INVALID_ARGUMENT, "st is NULL");
    TU_FAILS(ingot_safetensors_get(&a, st, NULL), INGOT_ERR_INVALID_ARGUMENT, "name is NULL");
    TU_FAILS(ingot_safetensors_get(NULL, st, "d"), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_null(a);
    ingot_tensor_info info;
    TU_FAILS(ingot_safetensors_info(&info, st, "x"), INGOT_ERR_NOT_FOUND, "no tensor named 'x'");
    TU_FAILS(ingot_safetensors_info(NULL, st, "x"), INGOT_ERR_INVALID_ARGUMENT, "out is NULL");
    TU_OK(ingot_safetensors_info(&info, st, "nine"));
    assert_false(info.supported);
    assert_int_equal(info.dtype, INGOT_U8);
    assert_int_equal(info.ndim, 9);
    assert_int_equal(info.shape[8], 2);
    TU_OK(ingot_safetensors_info(&info, st, "d"));
    assert_false(info.supported);
    assert_int_equal(info.dtype, INGOT_DTYPE_COUNT);
    assert_string_equal(info.dtype_name, "F64");
    /* NULL-tolerant queries */
    assert_null(ingot_safetensors_name(st, 3));
    assert_null(ingot_safetensors_name(NULL, 0));
    assert_int_equal(ingot_safetensors_count(NULL), 0);
    assert_int_equal(ingot_safetensors_metadata_count(NULL), 0);
    assert_null(ingot_safetensors_metadata(st, NULL));
    assert_null(ingot_safetensors_metadata_key(st, 0));
    assert_null(ingot_safetensors_file_path(st, 1));
    assert_null(ingot_safetensors_file_metadata(st, 1, "x"));
    ingot_safetensors_close(st);
    ingot_safetensors_close(NULL);
}

/* ---- valid files ---- */

static void test_scalar_and_lifetime(void **state) {
    (void)state;
    static const unsigned char data[4] = {0x00, 0x00, 0xc0, 0x3f}; /* 1.5f */
    const char *header = "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    write_st("scalar.safetensors", header, (8 - strlen(header) % 8) % 8, data, sizeof data);
    ingot_safetensors *st = open_ok("scalar.safetensors");
    assert_int_equal(ingot_safetensors_count(st), 1);
    assert_string_equal(ingot_safetensors_name(st, 0), "s");
    ingot_tensor_info info;
    TU_OK(ingot_safetensors_info(&info, st, "s"));
    assert_int_equal(info.ndim, 0);
    assert_non_null(info.shape);
    assert_int_equal(info.nbytes, 4);
    assert_true(info.supported);
    assert_true(strstr(info.file, "scalar.safetensors") != NULL);
    ingot_array *a = NULL, *b = NULL;
    TU_OK(ingot_safetensors_get(&a, st, "s"));
    TU_OK(ingot_safetensors_get(&b, st, "s"));
    /* zero-copy: both arrays wrap the same mapped bytes */
    assert_ptr_equal(ingot__data(a), ingot__data(b));
    ingot_safetensors_close(st); /* the arrays keep the mapping alive */
    assert_true(is_mapped("scalar.safetensors"));
    double v = 0;
    TU_OK(ingot_array_item(&v, a));
    assert_true(v == 1.5);
    ingot_array_free(a);
    assert_true(is_mapped("scalar.safetensors"));
    assert_bytes(b, INGOT_F32, NULL, 0, data, 4);
    ingot_array_free(b); /* the last reference unmaps the file */
    assert_false(is_mapped("scalar.safetensors"));
    st = open_ok("scalar.safetensors");
    assert_true(is_mapped("scalar.safetensors"));
    ingot_safetensors_close(st);
    assert_false(is_mapped("scalar.safetensors"));
}

static void test_zero_size_tensors(void **state) {
    (void)state;
    static const unsigned char data[2] = {7, 9};
    write_st("zero.safetensors",
             "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
             "\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
             "\"z\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[2,2]},"
             "\"y\":{\"dtype\":\"BF16\",\"shape\":[4,0,2],\"data_offsets\":[0,0]}}",
             0, data, sizeof data);
    ingot_safetensors *st = open_ok("zero.safetensors");
    assert_int_equal(ingot_safetensors_count(st), 4);
    get_bytes(st, "e", INGOT_F32, (int64_t[]){0, 3}, 2, NULL, 0);
    get_bytes(st, "w", INGOT_U8, (int64_t[]){2}, 1, data, 2);
    get_bytes(st, "z", INGOT_I8, (int64_t[]){0}, 1, NULL, 0);
    get_bytes(st, "y", INGOT_BF16, (int64_t[]){4, 0, 2}, 3, NULL, 0);
    ingot_safetensors_close(st);
}

static void test_padded_header(void **state) {
    (void)state;
    static const unsigned char data[3] = {1, 2, 3};
    write_st("padded.safetensors",
             "{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", 5, data,
             sizeof data);
    write_st("padded_ws.safetensors",
             "{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}\n\t\r ", 0, data,
             sizeof data);
    for (int i = 0; i < 2; i++) {
        ingot_safetensors *st = open_ok(i ? "padded_ws.safetensors" : "padded.safetensors");
        get_bytes(st, "a", INGOT_U8, (int64_t[]){3}, 1, data, 3);
        ingot_safetensors_close(st);
    }
}

static void test_metadata_only_and_empty(void **state) {
    (void)state;
    write_st(
        "meta_only.safetensors",
        "{\"__metadata__\":{\"format\":\"pt\",\"b\":\"x\\\"y\",\"a\":\"\",\"\\u00e9\":\"\\n\"}}", 3,
        NULL, 0);
    ingot_safetensors *st = open_ok("meta_only.safetensors");
    assert_int_equal(ingot_safetensors_count(st), 0);
    assert_int_equal(ingot_safetensors_metadata_count(st), 4);
    static const char *const keys[] = {"a", "b", "format", "\xc3\xa9"};
    static const char *const values[] = {"", "x\"y", "pt", "\n"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(ingot_safetensors_metadata_key(st, i), keys[i]);
        assert_string_equal(ingot_safetensors_metadata_value(st, i), values[i]);
        assert_string_equal(ingot_safetensors_metadata(st, keys[i]), values[i]);
    }
    assert_null(ingot_safetensors_metadata(st, "missing"));
    assert_string_equal(ingot_safetensors_file_metadata(st, 0, "format"), "pt");
    ingot_safetensors_close(st);

    write_st("empty.safetensors", "{}", 0, NULL, 0);
    st = open_ok("empty.safetensors");
    assert_int_equal(ingot_safetensors_count(st), 0);
    assert_int_equal(ingot_safetensors_metadata_count(st), 0);
    assert_int_equal(ingot_safetensors_file_count(st), 1);
    assert_null(ingot_safetensors_name(st, 0));
    ingot_safetensors_close(st);
}

/* Every dtype of the format, laid out by hand (8-byte types first). */
static void test_every_dtype(void **state) {
    (void)state;
    static const unsigned char data[71] = {
        /* i64 [0,8] */ 0,       0,    0,    0,    0, 0, 0,    0x80,
        /* u64 [8,16] */ 1,      2,    3,    4,    5, 6, 7,    8,
        /* f64 [16,24] */ 0,     0,    0,    0,    0, 0, 0xf0, 0x3f,
        /* c64 [24,32] */ 0,     0,    0x80, 0x3f, 0, 0, 0,    0x40,
        /* i32 [32,36] */ 0xfe,  0xff, 0xff, 0xff,
        /* u32 [36,40] */ 0xff,  0xff, 0xff, 0xff,
        /* f32 [40,44] */ 0x00,  0x00, 0x80, 0xbf,
        /* f16 [44,46] */ 0x00,  0x3c,
        /* bf16 [46,48] */ 0x80, 0x3f,
        /* i16 [48,50] */ 0xff,  0x7f,
        /* u16 [50,52] */ 0x34,  0x12,
        /* bool [52,55] */ 1,    0,    1,
        /* u8 [55,57] */ 0,      255,
        /* i8 [57,59] */ 0x80,   0x7f,
        /* f8 x5 [59,64] */ 1,   2,    3,    4,    5,
        /* f4 [64,65] */ 0x21,
        /* f6 x2 [65,71] */ 1,   2,    3,    4,    5, 6};
    const char *header =
        "{\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
        "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[8,16]},"
        "\"f64\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[16,24]},"
        "\"c64\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[24,32]},"
        "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[32,36]},"
        "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[36,40]},"
        "\"f32\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[40,44]},"
        "\"f16\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[44,46]},"
        "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[46,48]},"
        "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[48,50]},"
        "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[50,52]},"
        "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[52,55]},"
        "\"u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[55,57]},"
        "\"i8\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[57,59]},"
        "\"e4m3\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[59,60]},"
        "\"e5m2\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[60,61]},"
        "\"e8m0\":{\"dtype\":\"F8_E8M0\",\"shape\":[1],\"data_offsets\":[61,62]},"
        "\"e4fnuz\":{\"dtype\":\"F8_E4M3FNUZ\",\"shape\":[1],\"data_offsets\":[62,63]},"
        "\"e5fnuz\":{\"dtype\":\"F8_E5M2FNUZ\",\"shape\":[1],\"data_offsets\":[63,64]},"
        "\"f4\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[64,65]},"
        "\"f6a\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[65,68]},"
        "\"f6b\":{\"dtype\":\"F6_E3M2\",\"shape\":[2,2],\"data_offsets\":[68,71]}}";
    size_t pad = (8 - strlen(header) % 8) % 8; /* keep the data 8-byte aligned */
    write_st("dtypes.safetensors", header, pad, data, sizeof data);
    ingot_safetensors *st = open_ok("dtypes.safetensors");
    assert_int_equal(ingot_safetensors_count(st), 22);
    get_bytes(st, "i64", INGOT_I64, (int64_t[]){1}, 1, data + 0, 8);
    get_bytes(st, "i32", INGOT_I32, (int64_t[]){1}, 1, data + 32, 4);
    get_bytes(st, "u32", INGOT_U32, (int64_t[]){1}, 1, data + 36, 4);
    get_bytes(st, "f32", INGOT_F32, (int64_t[]){1, 1}, 2, data + 40, 4);
    get_bytes(st, "f16", INGOT_F16, (int64_t[]){1}, 1, data + 44, 2);
    get_bytes(st, "bf16", INGOT_BF16, (int64_t[]){1}, 1, data + 46, 2);
    get_bytes(st, "bool", INGOT_BOOL, (int64_t[]){3}, 1, data + 52, 3);
    get_bytes(st, "u8", INGOT_U8, (int64_t[]){2}, 1, data + 55, 2);
    get_bytes(st, "i8", INGOT_I8, (int64_t[]){2}, 1, data + 57, 2);
    /* values as numbers, decoded by hand from the bytes above */
    static const struct {
        const char *name;
        double value;
    } values[] = {{"i32", -2}, {"u32", 4294967295.0}, {"f32", -1},
                  {"f16", 1},  {"bf16", 1},           {"i64", -9223372036854775808.0}};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        ingot_array *a = NULL;
        double v = 0;
        TU_OK(ingot_safetensors_get(&a, st, values[i].name));
        TU_OK(ingot_array_item(&v, a));
        assert_true(v == values[i].value);
        ingot_array_free(a);
    }
    static const struct {
        const char *name, *dtype;
        uint64_t nbytes;
    } unsupported[] = {{"u64", "U64", 8},
                       {"f64", "F64", 8},
                       {"c64", "C64", 8},
                       {"i16", "I16", 2},
                       {"u16", "U16", 2},
                       {"e4m3", "F8_E4M3", 1},
                       {"e5m2", "F8_E5M2", 1},
                       {"e8m0", "F8_E8M0", 1},
                       {"e4fnuz", "F8_E4M3FNUZ", 1},
                       {"e5fnuz", "F8_E5M2FNUZ", 1},
                       {"f4", "F4", 1},
                       {"f6a", "F6_E2M3", 3},
                       {"f6b", "F6_E3M2", 3}};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        ingot_tensor_info info;
        TU_OK(ingot_safetensors_info(&info, st, unsupported[i].name));
        assert_string_equal(info.dtype_name, unsupported[i].dtype);
        assert_false(info.supported);
        assert_int_equal(info.nbytes, unsupported[i].nbytes);
        ingot_array *a = NULL;
        TU_FAILS(ingot_safetensors_get(&a, st, unsupported[i].name), INGOT_ERR_UNSUPPORTED,
                 unsupported[i].dtype);
        assert_null(a);
    }
    ingot_safetensors_close(st);
}

static void test_large_dims_and_order(void **state) {
    (void)state;
    static const unsigned char data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* listed out of data order; a huge dim beside a zero dim */
    write_st("large.safetensors",
             "{\"b\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[4,8]},"
             "\"big\":{\"dtype\":\"F32\",\"shape\":[1099511627776,0],\"data_offsets\":[0,0]},"
             "\"a\":{\"dtype\":\"I8\",\"shape\":[1,1,1,1,1,1,1,4],\"data_offsets\":[0,4]}}",
             0, data, sizeof data);
    ingot_safetensors *st = open_ok("large.safetensors");
    assert_string_equal(ingot_safetensors_name(st, 0), "a");
    assert_string_equal(ingot_safetensors_name(st, 1), "b");
    assert_string_equal(ingot_safetensors_name(st, 2), "big");
    get_bytes(st, "a", INGOT_I8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 4}, 8, data, 4);
    get_bytes(st, "b", INGOT_U8, (int64_t[]){2, 2}, 2, data + 4, 4);
    get_bytes(st, "big", INGOT_F32, (int64_t[]){1099511627776LL, 0}, 2, NULL, 0);
    ingot_safetensors_close(st);
}

static void test_misaligned_data_is_copied(void **state) {
    (void)state;
    static const unsigned char data[9] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 1};
    /* header padded so that the F32 data starts at a file offset of 3 mod 4 */
    const char *header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"y\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[8,9]}}";
    size_t pad = strlen(header) % 4 == 3 ? 0 : 3 - strlen(header) % 4;
    write_st("misaligned.safetensors", header, pad, data, sizeof data);
    ingot_safetensors *st = open_ok("misaligned.safetensors");
    get_bytes(st, "x", INGOT_F32, (int64_t[]){2}, 1, data, 8);
    get_bytes(st, "y", INGOT_U8, NULL, 0, data + 8, 1);
    ingot_safetensors_close(st);
}

static void test_unicode_names(void **state) {
    (void)state;
    static const unsigned char data[4] = {1, 2, 3, 4};
    write_st("unicode.safetensors",
             "{\"\xce\xb5.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
             "\"\xe6\xa8\xa1\xe5\x9e\x8b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
             "\"\xf0\x9f\x98\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
             "\"caf\\u00e9 \\\"q\\\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]}}",
             0, data, sizeof data);
    ingot_safetensors *st = open_ok("unicode.safetensors");
    /* byte order of the UTF-8 names */
    static const char *const names[] = {"caf\xc3\xa9 \"q\"", "\xce\xb5.weight",
                                        "\xe6\xa8\xa1\xe5\x9e\x8b", "\xf0\x9f\x98\x80"};
    static const unsigned char want[] = {4, 1, 2, 3};
    assert_int_equal(ingot_safetensors_count(st), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(ingot_safetensors_name(st, i), names[i]);
        get_bytes(st, names[i], INGOT_U8, (int64_t[]){1}, 1, &want[i], 1);
    }
    ingot_safetensors_close(st);
}

static void test_memory_and_directory(void **state) {
    (void)state;
    static const unsigned char data[2] = {0x00, 0x3c}; /* f16 1.0 */
    size_t len;
    unsigned char *buf =
        image(&len, "{\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 3, data, 2);
    ingot_safetensors *st = NULL;
    TU_OK(ingot_safetensors_open_memory(&st, buf, len, "mem"));
    memset(buf, 0, len); /* the handle holds its own copy */
    free(buf);
    ingot_tensor_info info;
    TU_OK(ingot_safetensors_info(&info, st, "h"));
    assert_string_equal(info.file, "mem");
    get_bytes(st, "h", INGOT_F16, (int64_t[]){1}, 1, data, 2);
    ingot_safetensors_close(st);

    /* a directory holding model.safetensors (preferred over an index) */
    make_dir("single_dir");
    write_st("single_dir/model.safetensors",
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 0, data, 2);
    write_raw("single_dir/model.safetensors.index.json", "{", 1);
    st = open_ok("single_dir/");
    assert_int_equal(ingot_safetensors_file_count(st), 1);
    get_bytes(st, "h", INGOT_F16, (int64_t[]){1}, 1, data, 2);
    ingot_safetensors_close(st);
}

static void test_sharded(void **state) {
    (void)state;
    static const unsigned char d1[8] = {1, 0, 0, 0, 2, 0, 0, 0};
    static const unsigned char d2[6] = {0, 0x3c, 9, 8, 7, 6};
    static const unsigned char d3[1] = {1};
    make_dir("sharded");
    make_dir("sharded/sub");
    write_st("sharded/model-00001-of-00003.safetensors",
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"layers.0.w\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             0, d1, sizeof d1);
    write_st("sharded/model-00002-of-00003.safetensors",
             "{\"layers.1.w\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
             "\"layers.1.b\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[2,6]}}",
             0, d2, sizeof d2);
    write_st("sharded/sub/part3.safetensors",
             "{\"mask\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", 0, d3, 1);
    const char *index =
        "{\"metadata\":{\"total_size\":15,\"format\":\"pt\",\"ratio\":0.5,\"ok\":true},"
        "\"weight_map\":{\"layers.1.b\":\"model-00002-of-00003.safetensors\","
        "\"layers.0.w\":\"model-00001-of-00003.safetensors\",\"mask\":\"sub/part3.safetensors\","
        "\"layers.1.w\":\"model-00002-of-00003.safetensors\"}}";
    write_raw("sharded/model.safetensors.index.json", index, strlen(index));
    for (int via_index = 0; via_index < 2; via_index++) {
        ingot_safetensors *st =
            open_ok(via_index ? "sharded/model.safetensors.index.json" : "sharded");
        assert_int_equal(ingot_safetensors_count(st), 4);
        assert_string_equal(ingot_safetensors_name(st, 0), "layers.0.w");
        assert_string_equal(ingot_safetensors_name(st, 3), "mask");
        assert_int_equal(ingot_safetensors_file_count(st), 3);
        assert_non_null(
            strstr(ingot_safetensors_file_path(st, 0), "sharded/model-00001-of-00003.safetensors"));
        assert_non_null(
            strstr(ingot_safetensors_file_path(st, 2), "sharded/sub/part3.safetensors"));
        assert_string_equal(ingot_safetensors_file_metadata(st, 0, "format"), "pt");
        assert_null(ingot_safetensors_file_metadata(st, 1, "format"));
        assert_int_equal(ingot_safetensors_metadata_count(st), 4);
        assert_string_equal(ingot_safetensors_metadata(st, "total_size"), "15");
        assert_string_equal(ingot_safetensors_metadata(st, "format"), "pt");
        assert_string_equal(ingot_safetensors_metadata(st, "ratio"), "0.5");
        assert_string_equal(ingot_safetensors_metadata(st, "ok"), "true");
        assert_string_equal(ingot_safetensors_metadata_key(st, 0), "format");
        get_bytes(st, "layers.0.w", INGOT_I32, (int64_t[]){2}, 1, d1, 8);
        get_bytes(st, "layers.1.w", INGOT_F16, (int64_t[]){1}, 1, d2, 2);
        get_bytes(st, "layers.1.b", INGOT_U8, (int64_t[]){2, 2}, 2, d2 + 2, 4);
        get_bytes(st, "mask", INGOT_BOOL, (int64_t[]){1}, 1, d3, 1);
        ingot_tensor_info info;
        TU_OK(ingot_safetensors_info(&info, st, "mask"));
        assert_non_null(strstr(info.file, "sub/part3.safetensors"));
        ingot_safetensors_close(st);
    }
    /* an empty weight_map is an empty model */
    make_dir("sharded_empty");
    write_raw("sharded_empty/model.safetensors.index.json", "{\"weight_map\":{}}", 17);
    ingot_safetensors *st = open_ok("sharded_empty");
    assert_int_equal(ingot_safetensors_count(st), 0);
    assert_int_equal(ingot_safetensors_file_count(st), 0);
    ingot_safetensors_close(st);
}

/* ---- links (safetensors.h, "Links") ---- */

static void make_link(const char *target, const char *rel) {
    char p[512];
    if (symlink(target, tpath(p, sizeof p, rel)) != 0)
        fail_msg("symlink %s -> %s: %s", rel, target, strerror(errno));
}

/* Opening path fails with FORMAT naming the file that leaves the folder. */
static void open_outside(const char *rel, const char *needle) {
    char p[512];
    ingot_safetensors *st = (ingot_safetensors *)&st;
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, rel)), INGOT_ERR_FORMAT, needle);
    assert_null(st);
}

/* Opens rel and checks it holds tensor "a" = {1, 2} (and "b" = {3, 4} when
 * sharded). */
static void open_linked(const char *rel, bool sharded) {
    static const float a[2] = {1, 2}, b[2] = {3, 4};
    ingot_safetensors *st = open_ok(rel);
    assert_int_equal(ingot_safetensors_count(st), sharded ? 2 : 1);
    get_bytes(st, "a", INGOT_F32, (int64_t[]){2}, 1, a, sizeof a);
    if (sharded) get_bytes(st, "b", INGOT_F32, (int64_t[]){2}, 1, b, sizeof b);
    ingot_safetensors_close(st);
}

static void write_ab(const char *rel_a, const char *rel_b, const char *rel_index) {
    static const float a[2] = {1, 2}, b[2] = {3, 4};
    static const char index[] = IDX("{\"a\":\"a.safetensors\",\"b\":\"b.safetensors\"}");
    write_st(rel_a, "{\"a\":" F32_2 "}", 0, a, sizeof a);
    if (rel_b) write_st(rel_b, "{\"b\":" F32_2 "}", 0, b, sizeof b);
    if (rel_index) write_raw(rel_index, index, strlen(index));
}

/* A weight file or shard that is a link leaving its folder is refused,
 * through the folder and through the index; links inside it, a linked
 * folder and an explicitly named file are followed. */
static void test_links(void **state) {
    (void)state;
    make_dir("elsewhere");
    write_ab("elsewhere/a.safetensors", "elsewhere/b.safetensors",
             "elsewhere/model.safetensors.index.json");

    make_dir("ln_single");
    make_link("../elsewhere/a.safetensors", "ln_single/model.safetensors");
    open_outside("ln_single", "ln_single/model.safetensors: resolves to ");
    open_outside("ln_single", "elsewhere/a.safetensors, outside the model folder ");
    open_linked("ln_single/model.safetensors", false); /* named: taken as it is */

    make_dir("ln_shard");
    write_ab("ln_shard/a.safetensors", NULL, "ln_shard/model.safetensors.index.json");
    make_link("../elsewhere/b.safetensors", "ln_shard/b.safetensors");
    open_outside("ln_shard", "ln_shard/b.safetensors: resolves to ");
    open_outside("ln_shard/model.safetensors.index.json", "b.safetensors, outside the model");

    make_dir("ln_index");
    make_link("../elsewhere/model.safetensors.index.json", "ln_index/model.safetensors.index.json");
    write_ab("ln_index/a.safetensors", "ln_index/b.safetensors", NULL);
    open_outside("ln_index", "ln_index/model.safetensors.index.json: resolves to ");
    /* named, the index is taken as it is; its shards are ln_index's own */
    open_linked("ln_index/model.safetensors.index.json", true);

    /* an absolute link outside, and a chain of links ending outside */
    make_dir("ln_chain");
    write_ab("ln_chain/a.safetensors", NULL, "ln_chain/model.safetensors.index.json");
    char p[512];
    make_link(tpath(p, sizeof p, "elsewhere/b.safetensors"), "ln_chain/hop");
    make_link("hop", "ln_chain/b.safetensors");
    open_outside("ln_chain", "ln_chain/b.safetensors: resolves to ");

    /* links that stay inside the folder, and a linked folder */
    make_dir("ln_inside");
    make_dir("ln_inside/store");
    write_ab("ln_inside/store/a", "ln_inside/store/b", "ln_inside/store/index");
    make_link("store/a", "ln_inside/a.safetensors");
    make_link("store/b", "ln_inside/b.safetensors");
    make_link("store/index", "ln_inside/model.safetensors.index.json");
    open_linked("ln_inside", true);
    open_linked("ln_inside/model.safetensors.index.json", true);
    make_link("ln_inside", "ln_alias");
    open_linked("ln_alias", true);
    open_linked("ln_alias/", true);

    /* a dangling link is a missing shard */
    make_dir("ln_dangling");
    write_ab("ln_dangling/a.safetensors", NULL, "ln_dangling/model.safetensors.index.json");
    make_link("nowhere.safetensors", "ln_dangling/b.safetensors");
    ingot_safetensors *st = NULL;
    TU_FAILS(ingot_safetensors_open(&st, tpath(p, sizeof p, "ln_dangling")), INGOT_ERR_NOT_FOUND,
             "b.safetensors: cannot open: No such file");
}

/* Hugging Face cache snapshots link every file to ../../blobs/<hash> of their
 * repo: those links load; a link to another repo's blobs, or the same shape
 * outside a models--ORG--NAME folder, does not. */
static void test_links_hub_cache(void **state) {
    (void)state;
    make_dir("hub");
    make_dir("hub/models--org--m");
    make_dir("hub/models--org--m/blobs");
    make_dir("hub/models--org--m/snapshots");
    make_dir("hub/models--org--m/snapshots/0123abcd");
    make_dir("hub/models--org--m/snapshots/0123abcd/sub");
    write_ab("hub/models--org--m/blobs/aaaa", "hub/models--org--m/blobs/bbbb",
             "hub/models--org--m/blobs/iiii");
    const char *snap = "hub/models--org--m/snapshots/0123abcd";
    char rel[256];
    snprintf(rel, sizeof rel, "%s/a.safetensors", snap);
    make_link("../../blobs/aaaa", rel);
    snprintf(rel, sizeof rel, "%s/b.safetensors", snap);
    make_link("../../blobs/bbbb", rel);
    snprintf(rel, sizeof rel, "%s/model.safetensors.index.json", snap);
    make_link("../../blobs/iiii", rel);
    open_linked(snap, true);
    open_linked(rel, true);
    snprintf(rel, sizeof rel, "%s/sub/model.safetensors", snap); /* a folder in the repo */
    make_link("../../../blobs/aaaa", rel);
    snprintf(rel, sizeof rel, "%s/sub", snap);
    open_linked(rel, false);

    /* another repo's blobs */
    make_dir("hub/models--org--other");
    make_dir("hub/models--org--other/blobs");
    make_dir("hub/models--org--other/snapshots");
    make_dir("hub/models--org--other/snapshots/4567");
    write_ab("hub/models--org--other/blobs/cccc", NULL, NULL);
    make_link("../../../models--org--m/blobs/aaaa",
              "hub/models--org--other/snapshots/4567/model.safetensors");
    open_outside("hub/models--org--other/snapshots/4567", "models--org--m/blobs/aaaa, outside");
    open_outside("hub/models--org--other/snapshots/4567", "and its cache blobs ");

    /* the snapshot shape without a models-- repo folder */
    make_dir("notcache");
    make_dir("notcache/blobs");
    make_dir("notcache/snapshots");
    make_dir("notcache/snapshots/0123");
    write_ab("notcache/blobs/aaaa", NULL, NULL);
    make_link("../../blobs/aaaa", "notcache/snapshots/0123/model.safetensors");
    open_outside("notcache/snapshots/0123", "outside the model folder ");
}

/* ---- saving ---- */

static void test_save_reference_bytes(void **state) {
    (void)state;
    /* The layout the reference implementation writes for one F32 tensor. */
    static const float v[6] = {0, 1, 2, 3, 4, 5};
    ingot_array *a = NULL;
    TU_OK(ingot_array_from_data(&a, v, INGOT_F32, (int64_t[]){1, 2, 3}, 3));
    char p[512];
    const char *name = "attn.0";
    const ingot_array *arr = a;
    TU_OK(ingot_safetensors_save(tpath(p, sizeof p, "ref.safetensors"), &name, &arr, 1, NULL, NULL,
                                 0));
    size_t want_len, got_len;
    unsigned char *want = image(
        &want_len, "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}", 0,
        v, sizeof v);
    unsigned char *got = read_all("ref.safetensors", &got_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(want);
    free(got);
    ingot_array_free(a);

    /* no tensors, no metadata: "{}" padded to 8 */
    TU_OK(ingot_safetensors_save(tpath(p, sizeof p, "none.safetensors"), NULL, NULL, 0, NULL, NULL,
                                 0));
    want = image(&want_len, "{}", 6, NULL, 0);
    got = read_all("none.safetensors", &got_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(want);
    free(got);
}

static void test_save_layout_and_round_trip(void **state) {
    (void)state;
    /* One array of each dtype, named so that name order differs from the
     * layout order (larger elements first, then names). */
    static const ingot_dtype dtypes[INGOT_DTYPE_COUNT] = {INGOT_BOOL, INGOT_U8,   INGOT_I8,
                                                          INGOT_I32,  INGOT_U32,  INGOT_I64,
                                                          INGOT_F16,  INGOT_BF16, INGOT_F32};
    static const char *const names[INGOT_DTYPE_COUNT] = {"a", "b", "c", "d", "e",
                                                         "f", "g", "h", "i"};
    ingot_array *arrays[INGOT_DTYPE_COUNT];
    for (int i = 0; i < INGOT_DTYPE_COUNT; i++)
        arrays[i] = tu_random(dtypes[i], (int64_t[]){2, 3}, 2, 100 + (uint64_t)i,
                              dtypes[i] == INGOT_BOOL ? 0 : -50, dtypes[i] == INGOT_BOOL ? 2 : 50);
    const char *keys[] = {"z", "a"}, *values[] = {"1", "caf\xc3\xa9"};
    char p[512];
    TU_OK(ingot_safetensors_save(tpath(p, sizeof p, "all.safetensors"), names,
                                 (const ingot_array *const *)arrays, INGOT_DTYPE_COUNT, keys,
                                 values, 2));
    const char *header = "{\"__metadata__\":{\"a\":\"caf\xc3\xa9\",\"z\":\"1\"},"
                         "\"f\":{\"dtype\":\"I64\",\"shape\":[2,3],\"data_offsets\":[0,48]},"
                         "\"d\":{\"dtype\":\"I32\",\"shape\":[2,3],\"data_offsets\":[48,72]},"
                         "\"e\":{\"dtype\":\"U32\",\"shape\":[2,3],\"data_offsets\":[72,96]},"
                         "\"i\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[96,120]},"
                         "\"g\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[120,132]},"
                         "\"h\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[132,144]},"
                         "\"a\":{\"dtype\":\"BOOL\",\"shape\":[2,3],\"data_offsets\":[144,150]},"
                         "\"b\":{\"dtype\":\"U8\",\"shape\":[2,3],\"data_offsets\":[150,156]},"
                         "\"c\":{\"dtype\":\"I8\",\"shape\":[2,3],\"data_offsets\":[156,162]}}";
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8, len;
    unsigned char *file = read_all("all.safetensors", &len);
    assert_int_equal(len, 8 + padded + 162);
    uint64_t n_header = 0;
    for (int i = 7; i >= 0; i--)
        n_header = n_header << 8 | file[i];
    assert_int_equal(n_header, padded);
    assert_memory_equal(file + 8, header, hlen);
    for (size_t i = hlen; i < padded; i++)
        assert_int_equal(file[8 + i], ' ');
    free(file);

    ingot_safetensors *st = open_ok("all.safetensors");
    assert_int_equal(ingot_safetensors_count(st), INGOT_DTYPE_COUNT);
    assert_string_equal(ingot_safetensors_metadata(st, "a"), "caf\xc3\xa9");
    assert_string_equal(ingot_safetensors_metadata(st, "z"), "1");
    for (int i = 0; i < INGOT_DTYPE_COUNT; i++) {
        size_t n = ingot_array_nbytes(arrays[i]);
        unsigned char *want = malloc(n);
        assert_non_null(want);
        TU_OK(ingot_array_to_host(want, n, dtypes[i], arrays[i]));
        get_bytes(st, names[i], dtypes[i], (int64_t[]){2, 3}, 2, want, n);
        free(want);
        ingot_array_free(arrays[i]);
    }
    ingot_safetensors_close(st);
}

static void test_save_noncontiguous(void **state) {
    (void)state;
    ingot_array *base = tu_random(INGOT_F32, (int64_t[]){3, 4}, 2, 7, -1, 1);
    ingot_array *views[3] = {NULL, NULL, tu_noncontiguous(base)};
    TU_OK(ingot_transpose(&views[0], base, NULL, 0));
    TU_OK(ingot_slice(&views[1], base, (int64_t[]){2, 0}, (int64_t[]){-4, 4}, (int64_t[]){-1, 3}));
    const char *names[3] = {"t", "s", "n"};
    char p[512];
    TU_OK(ingot_safetensors_save(tpath(p, sizeof p, "views.safetensors"), names,
                                 (const ingot_array *const *)views, 3, NULL, NULL, 0));
    /* overwrite it once more: the rename replaces the old file */
    TU_OK(ingot_safetensors_save(p, names, (const ingot_array *const *)views, 3, NULL, NULL, 0));
    ingot_safetensors *st = open_ok("views.safetensors");
    for (int i = 0; i < 3; i++) {
        assert_false(ingot_array_is_contiguous(views[i]));
        double *want = tu_values(views[i]); /* row-major values of the view */
        int64_t n = ingot_array_size(views[i]);
        float *wantf = malloc((size_t)n * sizeof *wantf + 1);
        assert_non_null(wantf);
        for (int64_t k = 0; k < n; k++)
            wantf[k] = (float)want[k];
        get_bytes(st, names[i], INGOT_F32, ingot_array_shape(views[i]), ingot_array_ndim(views[i]),
                  wantf, (size_t)n * sizeof(float));
        free(want);
        free(wantf);
        ingot_array_free(views[i]);
    }
    ingot_array_free(base);
    ingot_safetensors_close(st);
}

/* Arrays loaded from a file can be saved over that very file. */
static void test_save_over_open_file(void **state) {
    (void)state;
    static const unsigned char data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    write_st("resave.safetensors",
             "{\"a\":{\"dtype\":\"U8\",\"shape\":[2,4],\"data_offsets\":[0,8]}}", 0, data,
             sizeof data);
    ingot_safetensors *st = open_ok("resave.safetensors");
    ingot_array *a = NULL;
    TU_OK(ingot_safetensors_get(&a, st, "a"));
    const char *name = "a", *key = "note", *value = "resaved";
    const ingot_array *arr = a;
    char p[512];
    TU_OK(ingot_safetensors_save(tpath(p, sizeof p, "resave.safetensors"), &name, &arr, 1, &key,
                                 &value, 1));
    ingot_safetensors_close(st);
    ingot_array_free(a);
    st = open_ok("resave.safetensors");
    assert_string_equal(ingot_safetensors_metadata(st, "note"), "resaved");
    get_bytes(st, "a", INGOT_U8, (int64_t[]){2, 4}, 2, data, sizeof data);
    ingot_safetensors_close(st);
}

static void assert_no_temp_files(const char *rel) {
    char p[512];
    DIR *d = opendir(tpath(p, sizeof p, rel));
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        assert_null(strstr(e->d_name, ".tmp"));
    closedir(d);
}

static void test_save_errors(void **state) {
    (void)state;
    make_dir("save_err");
    ingot_array *a = tu_random(INGOT_F32, (int64_t[]){2}, 1, 1, 0, 1);
    const ingot_array *two[2] = {a, a};
    const ingot_array *with_null[2] = {a, NULL};
    char p[512];
    const char *path = tpath(p, sizeof p, "save_err/x.safetensors");
    const char *dup[2] = {"w", "w"}, *ok2[2] = {"v", "w"};
    const char *empty[1] = {""}, *meta[1] = {"__metadata__"}, *bad_utf8[1] = {"a\xff"};
    const char *null_name[2] = {"w", NULL};
    TU_FAILS(ingot_safetensors_save(NULL, ok2, two, 2, NULL, NULL, 0), INGOT_ERR_INVALID_ARGUMENT,
             "path is NULL");
    TU_FAILS(ingot_safetensors_save("", ok2, two, 2, NULL, NULL, 0), INGOT_ERR_INVALID_ARGUMENT,
             "path is empty");
    TU_FAILS(ingot_safetensors_save(path, NULL, two, 2, NULL, NULL, 0), INGOT_ERR_INVALID_ARGUMENT,
             "names or arrays is NULL");
    TU_FAILS(ingot_safetensors_save(path, dup, two, 2, NULL, NULL, 0), INGOT_ERR_INVALID_ARGUMENT,
             "tensor name 'w' is repeated");
    TU_FAILS(ingot_safetensors_save(path, ok2, with_null, 2, NULL, NULL, 0),
             INGOT_ERR_INVALID_ARGUMENT, "arrays[1] is NULL");
    TU_FAILS(ingot_safetensors_save(path, null_name, two, 2, NULL, NULL, 0),
             INGOT_ERR_INVALID_ARGUMENT, "names[1] is NULL");
    TU_FAILS(ingot_safetensors_save(path, empty, two, 1, NULL, NULL, 0), INGOT_ERR_INVALID_ARGUMENT,
             "not a valid tensor name");
    TU_FAILS(ingot_safetensors_save(path, meta, two, 1, NULL, NULL, 0), INGOT_ERR_INVALID_ARGUMENT,
             "not a valid tensor name");
    TU_FAILS(ingot_safetensors_save(path, bad_utf8, two, 1, NULL, NULL, 0),
             INGOT_ERR_INVALID_ARGUMENT, "not a valid tensor name");
    const char *keys[2] = {"k", "k"}, *values[2] = {"1", "2"}, *bad_values[1] = {"\xc3"};
    TU_FAILS(ingot_safetensors_save(path, ok2, two, 2, keys, values, 2), INGOT_ERR_INVALID_ARGUMENT,
             "metadata key 'k' is repeated");
    TU_FAILS(ingot_safetensors_save(path, ok2, two, 2, keys, NULL, 1), INGOT_ERR_INVALID_ARGUMENT,
             "meta_keys or meta_values is NULL");
    TU_FAILS(ingot_safetensors_save(path, ok2, two, 2, keys, bad_values, 1),
             INGOT_ERR_INVALID_ARGUMENT, "metadata entry 0 is not valid UTF-8");
    TU_FAILS(ingot_safetensors_save(tpath(p, sizeof p, "no/such/dir/x.safetensors"), ok2, two, 2,
                                    NULL, NULL, 0),
             INGOT_ERR_IO, "cannot create");
    /* rename onto a non-empty directory fails; nothing is left behind */
    make_dir("save_err/target");
    write_raw("save_err/target/keep", "k", 1);
    TU_FAILS(
        ingot_safetensors_save(tpath(p, sizeof p, "save_err/target"), ok2, two, 2, NULL, NULL, 0),
        INGOT_ERR_IO, "cannot rename");
    assert_no_temp_files("save_err");
    size_t len;
    unsigned char *kept = read_all("save_err/target/keep", &len);
    assert_int_equal(len, 1);
    free(kept);
    /* a failed save leaves an existing destination untouched */
    write_raw("save_err/x.safetensors", "old", 3);
    TU_FAILS(ingot_safetensors_save(tpath(p, sizeof p, "save_err/x.safetensors"), dup, two, 2, NULL,
                                    NULL, 0),
             INGOT_ERR_INVALID_ARGUMENT, "repeated");
    kept = read_all("save_err/x.safetensors", &len);
    assert_int_equal(len, 3);
    assert_memory_equal(kept, "old", 3);
    free(kept);
    assert_no_temp_files("save_err");
    ingot_array_free(a);
}

int main(void) {
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_get_errors),
        cmocka_unit_test(test_scalar_and_lifetime),
        cmocka_unit_test(test_zero_size_tensors),
        cmocka_unit_test(test_padded_header),
        cmocka_unit_test(test_metadata_only_and_empty),
        cmocka_unit_test(test_every_dtype),
        cmocka_unit_test(test_large_dims_and_order),
        cmocka_unit_test(test_misaligned_data_is_copied),
        cmocka_unit_test(test_unicode_names),
        cmocka_unit_test(test_memory_and_directory),
        cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_links_hub_cache),
        cmocka_unit_test(test_save_reference_bytes),
        cmocka_unit_test(test_save_layout_and_round_trip),
        cmocka_unit_test(test_save_noncontiguous),
        cmocka_unit_test(test_save_over_open_file),
        cmocka_unit_test(test_save_errors),
    };
    enum { N_FIXED = sizeof fixed / sizeof fixed[0] };
    static struct CMUnitTest tests[N_FIXED + N_BAD + N_INDEX];
    size_t n = 0;
    for (size_t i = 0; i < N_FIXED; i++)
        tests[n++] = fixed[i];
    for (size_t i = 0; i < N_BAD; i++)
        tests[n++] = (struct CMUnitTest){bad_cases[i].name, test_bad_file, NULL, NULL,
                                         (void *)&bad_cases[i]};
    for (size_t i = 0; i < N_INDEX; i++)
        tests[n++] = (struct CMUnitTest){index_cases[i].name, test_bad_index, NULL, NULL,
                                         (void *)&index_cases[i]};
    return _cmocka_run_group_tests("safetensors", tests, n, group_setup, group_teardown);
}
