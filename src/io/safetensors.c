/* safetensors loading (mmap, lazy, validated) and saving (atomic rename).
 * The rules enforced here are listed in docs/safetensors.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/internal.h"
#include "ingot/safetensors.h"
#include "io/io_internal.h"

#define ST_MAX ((uint64_t)INGOT_SAFETENSORS_MAX_HEADER)
#define ST_SUPPORTED_LIST "BOOL, U8, I8, I32, U32, I64, F16, BF16, F32"

/* ---- dtypes: every dtype of the format (safetensors 0.6), in its order ---- */

typedef struct st_dtype {
    const char *name;
    unsigned bits;     /* bits per element */
    ingot_dtype dtype; /* INGOT_DTYPE_COUNT: ingot has no such dtype */
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"BOOL", 8, INGOT_BOOL},
    {"F4", 4, INGOT_DTYPE_COUNT},
    {"F6_E2M3", 6, INGOT_DTYPE_COUNT},
    {"F6_E3M2", 6, INGOT_DTYPE_COUNT},
    {"U8", 8, INGOT_U8},
    {"I8", 8, INGOT_I8},
    {"F8_E5M2", 8, INGOT_DTYPE_COUNT},
    {"F8_E4M3", 8, INGOT_DTYPE_COUNT},
    {"F8_E8M0", 8, INGOT_DTYPE_COUNT},
    {"F8_E4M3FNUZ", 8, INGOT_DTYPE_COUNT},
    {"F8_E5M2FNUZ", 8, INGOT_DTYPE_COUNT},
    {"I16", 16, INGOT_DTYPE_COUNT},
    {"U16", 16, INGOT_DTYPE_COUNT},
    {"F16", 16, INGOT_F16},
    {"BF16", 16, INGOT_BF16},
    {"I32", 32, INGOT_I32},
    {"U32", 32, INGOT_U32},
    {"F32", 32, INGOT_F32},
    {"C64", 64, INGOT_DTYPE_COUNT},
    {"F64", 64, INGOT_DTYPE_COUNT},
    {"I64", 64, INGOT_I64},
    {"U64", 64, INGOT_DTYPE_COUNT},
};
#define ST_NDTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

static const st_dtype *dtype_by_name(const char *name) {
    for (size_t i = 0; i < ST_NDTYPES; i++)
        if (strcmp(st_dtypes[i].name, name) == 0) return &st_dtypes[i];
    return NULL;
}

/* The file spelling of an ingot dtype (valid dtypes only). */
static const char *dtype_file_name(ingot_dtype dtype) {
    for (size_t i = 0; i < ST_NDTYPES; i++)
        if (st_dtypes[i].dtype == dtype) return st_dtypes[i].name;
    return "invalid";
}

/* ---- small helpers ---- */

/* Offset of the first byte that breaks strict UTF-8 (as Rust's from_utf8:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or len. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], cp;
        size_t n;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i - 1 < n) return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += n + 1;
    }
    return len;
}

static bool utf8_valid(const char *s) {
    size_t len = strlen(s);
    return utf8_invalid_at((const unsigned char *)s, len) == len;
}

/* Offset of a "-0" number token outside strings, or len. jansson reads -0 as
 * the integer 0, serde_json (the reference) as a float it then rejects. */
static size_t negative_zero_at(const char *s, size_t len) {
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '-' && i + 1 < len && s[i + 1] == '0') {
            char next = i + 2 < len ? s[i + 2] : ' ';
            if (!(next >= '0' && next <= '9') && next != '.' && next != 'e' && next != 'E')
                return i;
        }
    }
    return len;
}

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* "(2,3)" for any number of dims, truncated with "..." to fit buf. */
static const char *shape_text(char *buf, size_t size, const int64_t *shape, int ndim) {
    size_t len = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ",%" PRId64 : "%" PRId64, shape[i]);
    if (len + 2 <= size) {
        snprintf(buf + len, size - len, ")");
    } else {
        snprintf(buf + size - 5, 5, "...)");
    }
    return buf;
}

static ingot_status oom(const char *label) {
    return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
}

/* An OS error: NOT_FOUND for a missing file, IO otherwise. */
static ingot_status os_error(int err, const char *label, const char *what) {
    return ingot__error(err == ENOENT ? INGOT_ERR_NOT_FOUND : INGOT_ERR_IO, "%s: %s: %s", label,
                        what, strerror(err));
}

/* ---- file bytes: an mmap or a private copy, shared by the arrays made from it ---- */

typedef struct st_region {
    atomic_long refs;
    unsigned char *base;
    size_t len;
    bool mapped; /* munmap (else free) when the last reference goes */
} st_region;

static st_region *region_new(unsigned char *base, size_t len, bool mapped) {
    st_region *r = malloc(sizeof *r);
    if (!r) return NULL;
    atomic_init(&r->refs, 1);
    r->base = base;
    r->len = len;
    r->mapped = mapped;
    return r;
}

static void region_unref(st_region *r) {
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1) return;
    if (r->mapped)
        munmap(r->base, r->len);
    else
        free(r->base);
    free(r);
}

static void region_release(void *ctx) { region_unref(ctx); }

/* ---- string maps (metadata) ---- */

typedef struct st_pair {
    char *key;
    char *value;
} st_pair;

typedef struct st_kv {
    size_t n;
    st_pair *items; /* sorted by key */
} st_kv;

static void kv_free(st_kv *kv) {
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->items[i].key);
        free(kv->items[i].value);
    }
    free(kv->items);
    kv->n = 0;
    kv->items = NULL;
}

static int pair_cmp(const void *a, const void *b) {
    return strcmp(((const st_pair *)a)->key, ((const st_pair *)b)->key);
}

static const char *kv_find(const st_kv *kv, const char *key) {
    st_pair probe = {(char *)key, NULL};
    const st_pair *p = kv->n ? bsearch(&probe, kv->items, kv->n, sizeof probe, pair_cmp) : NULL;
    return p ? p->value : NULL;
}

/* The JSON text of a scalar as an allocated string, for index metadata;
 * NULL for other types (and on allocation failure, *bad_type then false). */
static char *scalar_text(const json_t *v, bool *bad_type) {
    char buf[40];
    *bad_type = false;
    if (json_is_string(v)) return dup_str(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        ingot__snprintf_c(buf, sizeof buf, "%.17g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    } else {
        *bad_type = true;
        return NULL;
    }
    return dup_str(buf);
}

/* Fills kv from the JSON object obj (`what` names it in messages). Values
 * must be strings, or, with scalars, also numbers and booleans. */
static ingot_status kv_from_json(st_kv *kv, const json_t *obj, bool scalars, const char *label,
                                 const char *what) {
    if (!json_is_object(obj))
        return ingot__error(INGOT_ERR_FORMAT, "%s: %s is not a JSON object", label, what);
    size_t n = json_object_size(obj);
    kv->items = calloc(n ? n : 1, sizeof *kv->items);
    if (!kv->items) return oom(label);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        bool bad_type = !json_is_string(value);
        st_pair *p = &kv->items[kv->n];
        if (bad_type && scalars)
            p->value = scalar_text(value, &bad_type);
        else if (!bad_type)
            p->value = dup_str(json_string_value(value));
        if (bad_type)
            return ingot__error(INGOT_ERR_FORMAT, "%s: %s entry '%s' is not a %s", label, what, key,
                                scalars ? "string, number or boolean" : "string");
        kv->n++;
        p->key = dup_str(key);
        if (!p->key || !p->value) return oom(label);
    }
    qsort(kv->items, kv->n, sizeof *kv->items, pair_cmp);
    return INGOT_OK;
}

/* ---- the handle ---- */

typedef struct st_tensor {
    char *name;
    const st_dtype *dt;
    int64_t *shape; /* [ndim], at least one slot */
    int ndim;
    uint64_t begin, end; /* byte offsets in the file's data section */
    size_t file;         /* index into files */
} st_tensor;

typedef struct st_file {
    char *path; /* as opened; labels messages */
    st_region *region;
    size_t data_start; /* 8 + header length */
    st_kv meta;        /* its __metadata__ */
} st_file;

struct ingot_safetensors {
    char *label; /* the path opened */
    st_file *files;
    size_t nfiles;
    st_tensor *tensors; /* sorted by name once open; never NULL */
    size_t ntensors, cap;
    st_kv meta; /* an index's metadata (single files use files[0].meta) */
    bool sharded;
};

void ingot_safetensors_close(ingot_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->ntensors; i++) {
        free(st->tensors[i].name);
        free(st->tensors[i].shape);
    }
    for (size_t i = 0; i < st->nfiles; i++) {
        free(st->files[i].path);
        region_unref(st->files[i].region);
        kv_free(&st->files[i].meta);
    }
    kv_free(&st->meta);
    free(st->tensors);
    free(st->files);
    free(st->label);
    free(st);
}

static ingot_safetensors *handle_new(const char *label, size_t nfiles) {
    ingot_safetensors *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->label = dup_str(label);
    st->files = calloc(nfiles ? nfiles : 1, sizeof *st->files);
    st->cap = 16;
    st->tensors = malloc(st->cap * sizeof *st->tensors);
    if (!st->label || !st->files || !st->tensors) {
        ingot_safetensors_close(st);
        return NULL;
    }
    return st;
}

/* Appends a zeroed tensor to st (which owns its fields from then on). */
static st_tensor *tensor_append(ingot_safetensors *st) {
    st_tensor *all = ingot__grow(st->tensors, &st->cap, st->ntensors + 1, sizeof *all, 16);
    if (!all) return NULL;
    st->tensors = all;
    st_tensor *t = &st->tensors[st->ntensors++];
    memset(t, 0, sizeof *t);
    return t;
}

static int tensor_name_cmp(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int tensor_offset_cmp(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static const st_tensor *tensor_find(const ingot_safetensors *st, const char *name) {
    st_tensor probe = {.name = (char *)name};
    return bsearch(&probe, st->tensors, st->ntensors, sizeof probe, tensor_name_cmp);
}

/* ---- header parsing ---- */

/* A JSON integer >= 0 into *out. */
static bool json_count(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* Validates one tensor entry `name: v` of a header and fills t. */
static ingot_status parse_tensor(st_tensor *t, const char *name, const json_t *v,
                                 const char *label) {
    if (!(t->name = dup_str(name))) return oom(label);
    if (!name[0]) return ingot__error(INGOT_ERR_FORMAT, "%s: a tensor has an empty name", label);
    if (!json_is_object(v))
        return ingot__error(INGOT_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", label,
                            name);
    const char *field;
    json_t *fv;
    json_object_foreach((json_t *)v, field, fv) {
        if (strcmp(field, "dtype") && strcmp(field, "shape") && strcmp(field, "data_offsets"))
            return ingot__error(
                INGOT_ERR_FORMAT,
                "%s: tensor '%s': unknown field '%s' (expected dtype, shape and data_offsets)",
                label, name, field);
    }
    static const char *const fields[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(v, fields[i]))
            return ingot__error(INGOT_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", label,
                                name, fields[i]);

    const json_t *dtype = json_object_get(v, "dtype");
    if (!json_is_string(dtype))
        return ingot__error(INGOT_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", label,
                            name);
    if (!(t->dt = dtype_by_name(json_string_value(dtype))))
        return ingot__error(INGOT_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", label, name,
                            json_string_value(dtype));

    const json_t *shape = json_object_get(v, "shape");
    if (!json_is_array(shape))
        return ingot__error(INGOT_ERR_FORMAT, "%s: tensor '%s': shape is not a JSON array", label,
                            name);
    size_t ndim = json_array_size(shape); /* < 5e7: the header is at most 1e8 bytes */
    t->ndim = (int)ndim;
    if (!(t->shape = malloc((ndim ? ndim : 1) * sizeof *t->shape))) return oom(label);
    uint64_t elements = 1; /* overflow-checked in dim order, as the reference does */
    bool overflow = false;
    for (size_t i = 0; i < ndim; i++) {
        uint64_t d;
        if (!json_count(json_array_get(shape, i), &d))
            return ingot__error(INGOT_ERR_FORMAT,
                                "%s: tensor '%s': shape entry %zu is not a non-negative integer",
                                label, name, i);
        t->shape[i] = (int64_t)d;
        if (d && elements > UINT64_MAX / d) overflow = true;
        elements *= d;
    }
    char sbuf[96];
    shape_text(sbuf, sizeof sbuf, t->shape, t->ndim);
    if (overflow || elements > UINT64_MAX / t->dt->bits)
        return ingot__error(INGOT_ERR_FORMAT, "%s: tensor '%s': shape %s of %s overflows its size",
                            label, name, sbuf, t->dt->name);
    uint64_t bits = elements * t->dt->bits;
    if (bits % 8)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s: tensor '%s': shape %s of %s is not a whole number of bytes", label,
                            name, sbuf, t->dt->name);

    const json_t *offsets = json_object_get(v, "data_offsets");
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        !json_count(json_array_get(offsets, 0), &t->begin) ||
        !json_count(json_array_get(offsets, 1), &t->end))
        return ingot__error(
            INGOT_ERR_FORMAT,
            "%s: tensor '%s': data_offsets is not an array of two non-negative integers", label,
            name);
    if (t->end < t->begin)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                            "] end before they begin",
                            label, name, t->begin, t->end);
    if (t->end - t->begin != bits / 8)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 "] hold %" PRIu64
                            " bytes but shape %s of %s needs %" PRIu64,
                            label, name, t->begin, t->end, t->end - t->begin, sbuf, t->dt->name,
                            bits / 8);
    return INGOT_OK;
}

/* Checks that tensors t[0..n), sorted by offsets, tile [0, data_len) exactly. */
static ingot_status check_layout(const st_tensor *t, size_t n, uint64_t data_len,
                                 const char *label) {
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].begin > pos)
            return ingot__error(INGOT_ERR_FORMAT,
                                "%s: data bytes [%" PRIu64 ",%" PRIu64
                                ") belong to no tensor (tensor '%s' starts at %" PRIu64 ")",
                                label, pos, t[i].begin, t[i].name, t[i].begin);
        if (t[i].begin < pos)
            return ingot__error(INGOT_ERR_FORMAT,
                                "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                                "] overlap tensor '%s', which ends at %" PRIu64,
                                label, t[i].name, t[i].begin, t[i].end, t[i - 1].name, pos);
        pos = t[i].end;
    }
    if (pos > data_len)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s: tensor '%s' ends at data byte %" PRIu64
                            ", past the end of the file (the data section holds %" PRIu64 " bytes)",
                            label, t[n - 1].name, pos, data_len);
    if (pos < data_len)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s: the tensors end at data byte %" PRIu64
                            " but the data section holds %" PRIu64 " bytes (%" PRIu64
                            " trailing bytes belong to no tensor)",
                            label, pos, data_len, data_len - pos);
    return INGOT_OK;
}

/* Validates the header of file `fi` (its region is set) and appends its
 * tensors to st->tensors. */
static ingot_status parse_file(ingot_safetensors *st, size_t fi) {
    st_file *f = &st->files[fi];
    const char *label = f->path;
    const unsigned char *buf = f->region->base;
    size_t len = f->region->len;
    if (len < 8)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s: file is %zu bytes, too small for the 8-byte header length", label,
                            len);
    uint64_t n = read_le64(buf);
    if (n > ST_MAX)
        return ingot__error(INGOT_ERR_LIMIT,
                            "%s: header length %" PRIu64 " exceeds the limit of %" PRIu64 " bytes",
                            label, n, ST_MAX);
    if (n > len - 8)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s: header length %" PRIu64 " runs past the end of the %zu-byte file",
                            label, n, len);
    const char *text = (const char *)buf + 8;
    size_t bad = utf8_invalid_at(buf + 8, n);
    if (bad < n)
        return ingot__error(INGOT_ERR_FORMAT, "%s: header is not valid UTF-8 (header byte %zu)",
                            label, bad);
    if (n == 0 || text[0] != '{')
        return ingot__error(INGOT_ERR_FORMAT, "%s: header does not start with '{'", label);
    if ((bad = negative_zero_at(text, n)) < n)
        return ingot__error(
            INGOT_ERR_FORMAT,
            "%s: header holds -0, which is not a non-negative integer (header byte %zu)", label,
            bad);
    json_error_t jerr;
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ingot__error(INGOT_ERR_FORMAT, "%s: header is not valid JSON: %s (header byte %d)",
                            label, jerr.text, jerr.position);
    ingot_status s = INGOT_OK;
    size_t first = st->ntensors;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (strcmp(key, "__metadata__") == 0) {
            s = kv_from_json(&f->meta, value, false, label, "__metadata__");
        } else {
            st_tensor *t = tensor_append(st);
            s = t ? parse_tensor(t, key, value, label) : oom(label);
            if (t) t->file = fi;
        }
        if (s != INGOT_OK) break;
    }
    json_decref(root);
    if (s != INGOT_OK) return s;
    f->data_start = 8 + (size_t)n;
    qsort(st->tensors + first, st->ntensors - first, sizeof *st->tensors, tensor_offset_cmp);
    return check_layout(st->tensors + first, st->ntensors - first, len - 8 - n, label);
}

/* Sorts st's tensors by name and rejects names held by two files. */
static ingot_status finish(ingot_safetensors *st) {
    qsort(st->tensors, st->ntensors, sizeof *st->tensors, tensor_name_cmp);
    for (size_t i = 1; i < st->ntensors; i++) {
        const st_tensor *a = &st->tensors[i - 1], *b = &st->tensors[i];
        if (strcmp(a->name, b->name) == 0)
            return ingot__error(INGOT_ERR_FORMAT, "%s: tensor '%s' is in two shards, %s and %s",
                                st->label, a->name, st->files[a->file].path,
                                st->files[b->file].path);
    }
    return INGOT_OK;
}

/* ---- the model folder: where a folder's files may resolve (safetensors.h, "Links") ---- */

typedef struct st_folder {
    char *root;  /* the folder's real path */
    char *blobs; /* for a Hugging Face cache snapshot, its repo's blobs folder (real path) */
} st_folder;

static void folder_free(st_folder *f) {
    free(f->root);
    free(f->blobs);
}

/* The folder dir (which exists). */
static ingot_status folder_init(st_folder *f, const char *dir) {
    *f = (st_folder){realpath(dir, NULL), NULL};
    if (!f->root) return os_error(errno, dir, "cannot resolve");
    ingot_status s = ingot__hub_blobs_dir(&f->blobs, f->root);
    if (s) folder_free(f);
    return s;
}

/* Whether the real path path lies in the real folder dir. */
static bool within(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || (n > 0 && dir[n - 1] == '/'));
}

/* Opens path read-only into *fd and stats it into *sb; it must be a regular
 * file and, when folder is not NULL, resolve inside it. */
/* The path to open for path: with a folder, its real path (*real, malloc'd),
 * which must lie inside the folder or its cache blobs; without, *real = NULL
 * and path itself is opened. */
static ingot_status resolve_inside(char **real, const char *path, const st_folder *folder) {
    *real = folder ? realpath(path, NULL) : NULL;
    if (folder && !*real) return os_error(errno, path, "cannot open");
    if (*real && !within(*real, folder->root) && !(folder->blobs && within(*real, folder->blobs))) {
        ingot_status s = ingot__error(
            INGOT_ERR_FORMAT, "%s: resolves to %s, outside the model folder %s%s%s", path, *real,
            folder->root, folder->blobs ? " and its cache blobs " : "",
            folder->blobs ? folder->blobs : "");
        free(*real);
        *real = NULL;
        return s;
    }
    return INGOT_OK;
}

static ingot_status open_regular(int *fd, struct stat *sb, const char *path,
                                 const st_folder *folder) {
    char *real;
    ingot_status s = resolve_inside(&real, path, folder);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
     * rejected as not a regular file); regular files ignore the flag. */
    *fd = s ? -1 : open(real ? real : path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    free(real);
    if (s) return s;
    if (*fd < 0) return os_error(errno, path, "cannot open");
    if (fstat(*fd, sb) != 0)
        s = os_error(errno, path, "cannot stat");
    else if (!S_ISREG(sb->st_mode))
        s = ingot__error(INGOT_ERR_IO, "%s: not a regular file", path);
    if (s) {
        close(*fd);
        *fd = -1;
    }
    return s;
}

/* Maps the regular file path into st->files[fi] (path already set); folder
 * as open_regular. */
static ingot_status map_file(ingot_safetensors *st, size_t fi, const st_folder *folder) {
    st_file *f = &st->files[fi];
    int fd;
    struct stat sb;
    ingot_status s = open_regular(&fd, &sb, f->path, folder);
    if (s) return s;
    if (sb.st_size < 8) {
        s = ingot__error(INGOT_ERR_FORMAT,
                         "%s: file is %jd bytes, too small for the 8-byte header length", f->path,
                         (intmax_t)sb.st_size);
    } else if ((uintmax_t)sb.st_size > SIZE_MAX) {
        s = ingot__error(INGOT_ERR_LIMIT, "%s: file is too large to map", f->path);
    } else {
        size_t len = (size_t)sb.st_size;
        void *base = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
            s = os_error(errno, f->path, "cannot mmap");
        } else if (!(f->region = region_new(base, len, true))) {
            munmap(base, len);
            s = oom(f->path);
        }
    }
    close(fd);
    return s;
}

/* Opens the single file path; folder as open_regular. */
static ingot_status open_single(ingot_safetensors **out, const char *path,
                                const st_folder *folder) {
    ingot_safetensors *st = handle_new(path, 1);
    if (!st) return oom(path);
    st->nfiles = 1;
    ingot_status s = (st->files[0].path = dup_str(path)) ? map_file(st, 0, folder) : oom(path);
    if (s == INGOT_OK) s = parse_file(st, 0);
    if (s == INGOT_OK) s = finish(st);
    if (s != INGOT_OK) {
        ingot_safetensors_close(st);
        return s;
    }
    *out = st;
    return INGOT_OK;
}

/* ---- shard indexes ---- */

/* Reads a whole (index) file into a NUL-terminated allocation (at most
 * ST_MAX bytes, a regular file); folder as resolve_inside. */
static ingot_status read_small_file(char **out, size_t *len, const char *path,
                                    const st_folder *folder) {
    char *real;
    ingot_status s = resolve_inside(&real, path, folder);
    if (!s) s = ingot__read_file(out, len, real ? real : path, (size_t)ST_MAX, "safetensors index");
    free(real);
    return s;
}

bool ingot__path_has_dotdot(const char *path) {
    for (const char *p = path; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
        if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0')) return true;
    return false;
}

/* Rejects shard names that could leave the index's directory (jansson has
 * already rejected NUL bytes: JSON_ALLOW_NUL is not used). */
static ingot_status check_shard_name(const char *label, const char *tensor, const json_t *v) {
    const char *shard = json_string_value(v);
    const char *why = NULL;
    if (!shard[0])
        why = "is empty";
    else if (shard[0] == '/')
        why = "is absolute";
    else if (ingot__path_has_dotdot(shard))
        why = "has a '..' component";
    if (why)
        return ingot__error(INGOT_ERR_FORMAT, "%s: weight_map entry '%s': shard path '%s' %s",
                            label, tensor, shard, why);
    return INGOT_OK;
}

static int str_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Validates the index document; fills the distinct shard names (sorted,
 * pointing into root) and the weight_map. */
static ingot_status check_index(const json_t *root, const char *label, const json_t **weight_map,
                                const char ***shards, size_t *nshards) {
    if (!json_is_object(root))
        return ingot__error(INGOT_ERR_FORMAT, "%s: index is not a JSON object", label);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)root, key, value) {
        if (strcmp(key, "metadata") && strcmp(key, "weight_map"))
            return ingot__error(INGOT_ERR_FORMAT,
                                "%s: index has unknown key '%s' (expected metadata and weight_map)",
                                label, key);
    }
    const json_t *map = json_object_get(root, "weight_map");
    if (!map) return ingot__error(INGOT_ERR_FORMAT, "%s: index has no weight_map", label);
    if (!json_is_object(map))
        return ingot__error(INGOT_ERR_FORMAT, "%s: weight_map is not a JSON object", label);
    size_t n = json_object_size(map), k = 0;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) return oom(label);
    json_object_foreach((json_t *)map, key, value) {
        ingot_status s = INGOT_OK;
        if (!key[0])
            s = ingot__error(INGOT_ERR_FORMAT, "%s: weight_map has an empty tensor name", label);
        else if (!json_is_string(value))
            s = ingot__error(INGOT_ERR_FORMAT, "%s: weight_map entry '%s' is not a string", label,
                             key);
        else
            s = check_shard_name(label, key, value);
        if (s != INGOT_OK) {
            free(names);
            return s;
        }
        names[k++] = json_string_value(value);
    }
    qsort(names, n, sizeof *names, str_ptr_cmp);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++)
        if (unique == 0 || strcmp(names[unique - 1], names[i])) names[unique++] = names[i];
    *weight_map = map;
    *shards = names;
    *nshards = unique;
    return INGOT_OK;
}

/* Each shard tensor must be mapped to its own shard, and every weight_map
 * entry must be found (tensors are sorted by name and unique). */
static ingot_status check_weight_map(const ingot_safetensors *st, const json_t *map,
                                     const char *const *shards) {
    for (size_t i = 0; i < st->ntensors; i++) {
        const st_tensor *t = &st->tensors[i];
        const json_t *where = json_object_get(map, t->name);
        if (!where)
            return ingot__error(INGOT_ERR_FORMAT, "%s: tensor '%s' in %s is not in the weight_map",
                                st->label, t->name, st->files[t->file].path);
        if (strcmp(json_string_value(where), shards[t->file]))
            return ingot__error(
                INGOT_ERR_FORMAT, "%s: tensor '%s' is in %s but the weight_map places it in '%s'",
                st->label, t->name, st->files[t->file].path, json_string_value(where));
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)map, key, value) {
        if (!tensor_find(st, key))
            return ingot__error(INGOT_ERR_FORMAT,
                                "%s: weight_map places tensor '%s' in '%s', which does not hold it",
                                st->label, key, json_string_value(value));
    }
    return INGOT_OK;
}

/* Opens the nshards shards (sorted names) of the index at path into st,
 * whose files array has room for them; each must resolve inside folder. */
static ingot_status open_shards(ingot_safetensors *st, const char *path, const json_t *root,
                                const json_t *map, const char *const *shards, size_t nshards,
                                const st_folder *folder) {
    const json_t *meta = json_object_get(root, "metadata");
    ingot_status s = meta ? kv_from_json(&st->meta, meta, true, path, "metadata") : INGOT_OK;
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    for (size_t i = 0; s == INGOT_OK && i < nshards; i++) {
        size_t n = strlen(shards[i]);
        char *p = malloc(dir_len + n + 1);
        if (!p) return oom(path);
        memcpy(p, path, dir_len);
        memcpy(p + dir_len, shards[i], n + 1);
        st->files[i].path = p;
        st->nfiles = i + 1;
        s = map_file(st, i, folder);
        if (s == INGOT_OK) s = parse_file(st, i);
    }
    if (s == INGOT_OK) s = finish(st);
    if (s == INGOT_OK) s = check_weight_map(st, map, shards);
    return s;
}

/* The folder holding the file path: what precedes its last '/' ("." when
 * there is none). */
static ingot_status folder_of_file(st_folder *f, const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir) return oom(path);
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    ingot_status s = folder_init(f, dir);
    free(dir);
    return s;
}

/* Opens the index at path. With folder (the model folder holding it) the
 * index and its shards must resolve inside folder; without, the index is
 * taken as named and its shards must resolve inside the index's folder. */
static ingot_status open_index(ingot_safetensors **out, const char *path, const st_folder *folder) {
    char *text = NULL;
    size_t len = 0;
    ingot_status s = read_small_file(&text, &len, path, folder);
    if (s != INGOT_OK) return s;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return ingot__error(INGOT_ERR_FORMAT,
                            "%s: index is not valid JSON: %s (line %d, column %d)", path, jerr.text,
                            jerr.line, jerr.column);
    const json_t *map = NULL;
    const char **shards = NULL;
    size_t nshards = 0;
    ingot_safetensors *st = NULL;
    st_folder own = {0};
    s = check_index(root, path, &map, &shards, &nshards);
    if (s == INGOT_OK && !folder) s = folder_of_file(&own, path);
    if (s == INGOT_OK) s = (st = handle_new(path, nshards)) ? INGOT_OK : oom(path);
    if (s == INGOT_OK)
        s = open_shards(st, path, root, map, shards, nshards, folder ? folder : &own);
    folder_free(&own);
    free(shards);
    json_decref(root);
    if (s != INGOT_OK) {
        ingot_safetensors_close(st);
        return s;
    }
    st->sharded = true;
    *out = st;
    return INGOT_OK;
}

/* ---- public: opening ---- */

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Opens dir/model.safetensors, else dir/model.safetensors.index.json; every
 * file must resolve inside the folder dir. */
static ingot_status open_dir(ingot_safetensors **out, const char *dir) {
    static const char *const names[] = {"model.safetensors", "model.safetensors.index.json"};
    st_folder folder;
    ingot_status s = folder_init(&folder, dir);
    if (s) return s;
    size_t n = strlen(dir);
    const char *sep = n > 0 && dir[n - 1] == '/' ? "" : "/";
    bool missing = true;
    for (int i = 0; i < 2 && missing && !s; i++) {
        size_t size = n + 2 + strlen(names[i]);
        char *p = malloc(size);
        if (!p) {
            s = oom(dir);
            break;
        }
        snprintf(p, size, "%s%s%s", dir, sep, names[i]);
        struct stat sb;
        missing = stat(p, &sb) != 0 && errno == ENOENT;
        if (!missing) s = i == 0 ? open_single(out, p, &folder) : open_index(out, p, &folder);
        free(p);
    }
    folder_free(&folder);
    if (missing && !s)
        s = ingot__error(
            INGOT_ERR_NOT_FOUND,
            "%s: directory holds neither model.safetensors nor model.safetensors.index.json", dir);
    return s;
}

ingot_status ingot_safetensors_open(ingot_safetensors **out, const char *path) {
    INGOT__CHECK_NOT_NULL(out, "safetensors_open");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(path, "safetensors_open");
    struct stat sb;
    if (stat(path, &sb) != 0) return os_error(errno, path, "cannot open");
    if (S_ISDIR(sb.st_mode)) return open_dir(out, path);
    if (ends_with(path, ".json")) return open_index(out, path, NULL);
    return open_single(out, path, NULL);
}

ingot_status ingot_safetensors_open_memory(ingot_safetensors **out, const void *data, size_t nbytes,
                                           const char *name) {
    INGOT__CHECK_NOT_NULL(out, "safetensors_open_memory");
    *out = NULL;
    if (!data && nbytes)
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "safetensors_open_memory: data is NULL but nbytes is %zu", nbytes);
    const char *label = name ? name : "<memory>";
    ingot_safetensors *st = handle_new(label, 1);
    if (!st) return oom(label);
    st->nfiles = 1;
    unsigned char *copy = malloc(nbytes ? nbytes : 1);
    ingot_status s = INGOT_OK;
    if (!copy || !(st->files[0].path = dup_str(label)) ||
        !(st->files[0].region = region_new(copy, nbytes, false))) {
        free(copy);
        s = oom(label);
    } else {
        if (nbytes) memcpy(copy, data, nbytes);
        s = parse_file(st, 0);
    }
    if (s == INGOT_OK) s = finish(st);
    if (s != INGOT_OK) {
        ingot_safetensors_close(st);
        return s;
    }
    *out = st;
    return INGOT_OK;
}

/* ---- public: queries ---- */

size_t ingot_safetensors_count(const ingot_safetensors *st) { return st ? st->ntensors : 0; }

const char *ingot_safetensors_name(const ingot_safetensors *st, size_t i) {
    return st && i < st->ntensors ? st->tensors[i].name : NULL;
}

ingot_status ingot_safetensors_info(ingot_tensor_info *out, const ingot_safetensors *st,
                                    const char *name) {
    INGOT__CHECK_NOT_NULL(out, "safetensors_info");
    INGOT__CHECK_NOT_NULL(st, "safetensors_info");
    INGOT__CHECK_NOT_NULL(name, "safetensors_info");
    const st_tensor *t = tensor_find(st, name);
    if (!t) return ingot__error(INGOT_ERR_NOT_FOUND, "%s: no tensor named '%s'", st->label, name);
    out->name = t->name;
    out->dtype_name = t->dt->name;
    out->dtype = t->dt->dtype;
    out->supported = t->dt->dtype != INGOT_DTYPE_COUNT && t->ndim <= INGOT_MAX_DIMS;
    out->ndim = t->ndim;
    out->shape = t->shape;
    out->nbytes = t->end - t->begin;
    out->file = st->files[t->file].path;
    return INGOT_OK;
}

ingot_status ingot_safetensors_get(ingot_array **out, const ingot_safetensors *st,
                                   const char *name) {
    INGOT__CHECK_NOT_NULL(out, "safetensors_get");
    *out = NULL;
    INGOT__CHECK_NOT_NULL(st, "safetensors_get");
    INGOT__CHECK_NOT_NULL(name, "safetensors_get");
    const st_tensor *t = tensor_find(st, name);
    if (!t) return ingot__error(INGOT_ERR_NOT_FOUND, "%s: no tensor named '%s'", st->label, name);
    const st_file *f = &st->files[t->file];
    ingot_dtype dtype = t->dt->dtype;
    if (dtype == INGOT_DTYPE_COUNT)
        return ingot__error(
            INGOT_ERR_UNSUPPORTED,
            "%s: tensor '%s' has dtype %s, which ingot arrays do not support (supported: " ST_SUPPORTED_LIST
            ")",
            f->path, name, t->dt->name);
    if (t->ndim > INGOT_MAX_DIMS)
        return ingot__error(INGOT_ERR_UNSUPPORTED,
                            "%s: tensor '%s' has %d dims; ingot arrays hold at most %d", f->path,
                            name, t->ndim, INGOT_MAX_DIMS);
    const unsigned char *p = f->region->base + f->data_start + t->begin; /* [shape] */
    size_t nbytes = (size_t)(t->end - t->begin);
    if (dtype == INGOT_BOOL) {
        for (size_t i = 0; i < nbytes; i++)
            if (p[i] > 1)
                return ingot__error(INGOT_ERR_FORMAT,
                                    "%s: tensor '%s': BOOL element %zu is %u, not 0 or 1", f->path,
                                    name, i, p[i]);
    }
    if (nbytes == 0 || (uintptr_t)p % ingot_dtype_size(dtype) != 0)
        return ingot_array_from_data(out, p, dtype, t->shape, t->ndim);
    atomic_fetch_add_explicit(&f->region->refs, 1, memory_order_relaxed);
    ingot_status s =
        ingot_array_wrap(out, (void *)p, dtype, t->shape, t->ndim, region_release, f->region);
    if (s != INGOT_OK) region_unref(f->region);
    return s;
}

/* The model-level metadata. */
static const st_kv *model_meta(const ingot_safetensors *st) {
    return st->sharded ? &st->meta : &st->files[0].meta;
}

size_t ingot_safetensors_metadata_count(const ingot_safetensors *st) {
    return st ? model_meta(st)->n : 0;
}

const char *ingot_safetensors_metadata_key(const ingot_safetensors *st, size_t i) {
    return st && i < model_meta(st)->n ? model_meta(st)->items[i].key : NULL;
}

const char *ingot_safetensors_metadata_value(const ingot_safetensors *st, size_t i) {
    return st && i < model_meta(st)->n ? model_meta(st)->items[i].value : NULL;
}

const char *ingot_safetensors_metadata(const ingot_safetensors *st, const char *key) {
    return st && key ? kv_find(model_meta(st), key) : NULL;
}

size_t ingot_safetensors_file_count(const ingot_safetensors *st) { return st ? st->nfiles : 0; }

const char *ingot_safetensors_file_path(const ingot_safetensors *st, size_t i) {
    return st && i < st->nfiles ? st->files[i].path : NULL;
}

const char *ingot_safetensors_file_metadata(const ingot_safetensors *st, size_t i,
                                            const char *key) {
    return st && key && i < st->nfiles ? kv_find(&st->files[i].meta, key) : NULL;
}

/* ---- saving ---- */

typedef struct save_item {
    const char *name;
    const ingot_array *a;
    size_t esize;
} save_item;

static int item_name_cmp(const void *a, const void *b) {
    return strcmp(((const save_item *)a)->name, ((const save_item *)b)->name);
}

/* The reference layout: decreasing element size, then name. */
static int item_layout_cmp(const void *a, const void *b) {
    const save_item *x = a, *y = b;
    if (x->esize != y->esize) return x->esize > y->esize ? -1 : 1;
    return strcmp(x->name, y->name);
}

static ingot_status save_args(save_item *items, st_pair *meta, const char *const *names,
                              const ingot_array *const *arrays, size_t n, const char *const *keys,
                              const char *const *values, size_t n_meta) {
    static const char *op = "safetensors_save";
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !arrays[i])
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: %s[%zu] is NULL", op,
                                names[i] ? "arrays" : "names", i);
        if (!names[i][0] || !strcmp(names[i], "__metadata__") || !utf8_valid(names[i]))
            return ingot__error(
                INGOT_ERR_INVALID_ARGUMENT,
                "%s: names[%zu] '%s' is not a valid tensor name (empty, \"__metadata__\" or not UTF-8)",
                op, i, names[i]);
        items[i] = (save_item){names[i], arrays[i], ingot_dtype_size(ingot_array_dtype(arrays[i]))};
    }
    for (size_t i = 0; i < n_meta; i++) {
        if (!keys[i] || !values[i])
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: %s[%zu] is NULL", op,
                                keys[i] ? "meta_values" : "meta_keys", i);
        if (!utf8_valid(keys[i]) || !utf8_valid(values[i]))
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                                "%s: metadata entry %zu is not valid UTF-8", op, i);
        meta[i] = (st_pair){(char *)keys[i], (char *)values[i]};
    }
    qsort(items, n, sizeof *items, item_name_cmp);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(items[i - 1].name, items[i].name))
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: tensor name '%s' is repeated", op,
                                items[i].name);
    qsort(meta, n_meta, sizeof *meta, pair_cmp);
    for (size_t i = 1; i < n_meta; i++)
        if (!strcmp(meta[i - 1].key, meta[i].key))
            return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: metadata key '%s' is repeated", op,
                                meta[i].key);
    qsort(items, n, sizeof *items, item_layout_cmp);
    return INGOT_OK;
}

/* The header JSON for items (in layout order) and meta (sorted), padded with
 * spaces to a multiple of 8 bytes; *len is its length. */
static ingot_status save_header(char **out, size_t *len, const save_item *items, size_t n,
                                const st_pair *meta, size_t n_meta) {
    json_t *root = json_object();
    bool ok = root != NULL;
    if (ok && n_meta) {
        json_t *m = json_object();
        for (size_t i = 0; m && i < n_meta; i++)
            ok &= json_object_set_new(m, meta[i].key, json_string(meta[i].value)) == 0;
        ok &= json_object_set_new(root, "__metadata__", m) == 0;
    }
    uint64_t offset = 0;
    for (size_t i = 0; ok && i < n; i++) {
        const ingot_array *a = items[i].a;
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        for (int d = 0; d < ingot_array_ndim(a); d++)
            ok &= json_array_append_new(shape, json_integer(ingot_array_shape(a)[d])) == 0;
        uint64_t end = offset + ingot_array_nbytes(a);
        ok &= json_array_append_new(offs, json_integer((json_int_t)offset)) == 0;
        ok &= json_array_append_new(offs, json_integer((json_int_t)end)) == 0;
        ok &= json_object_set_new(e, "dtype", json_string(dtype_file_name(ingot_array_dtype(a)))) ==
              0;
        ok &= json_object_set_new(e, "shape", shape) == 0;
        ok &= json_object_set_new(e, "data_offsets", offs) == 0;
        ok &= json_object_set_new(root, items[i].name, e) == 0;
        offset = end;
    }
    char *text = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text) return oom("safetensors_save");
    size_t n_text = strlen(text), padded = (n_text + 7) / 8 * 8;
    if (padded > ST_MAX) {
        free(text);
        return ingot__error(
            INGOT_ERR_LIMIT,
            "safetensors_save: the header would be %zu bytes, over the limit of %" PRIu64, padded,
            ST_MAX);
    }
    char *buf = realloc(text, padded + 1);
    if (!buf) {
        free(text);
        return oom("safetensors_save");
    }
    memset(buf + n_text, ' ', padded - n_text);
    buf[padded] = '\0';
    *out = buf;
    *len = padded;
    return INGOT_OK;
}

static ingot_status write_bytes(int fd, const char *path, const void *data, size_t len) {
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            return ingot__error(INGOT_ERR_IO, "safetensors_save: %s: cannot write: %s", path,
                                strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return INGOT_OK;
}

/* Writes one array's elements row-major. */
static ingot_status write_array(int fd, const char *path, const ingot_array *a) {
    size_t nbytes = ingot_array_nbytes(a);
    if (nbytes == 0) return INGOT_OK;
    if (ingot_array_is_contiguous(a) && ingot_array_device(a).type == INGOT_DEVICE_CPU)
        return write_bytes(fd, path, ingot__data(a), nbytes);
    void *buf = malloc(nbytes); /* row-major copy of a */
    if (!buf) return oom("safetensors_save");
    ingot_status s = ingot_array_to_host(buf, nbytes, ingot_array_dtype(a), a);
    if (s == INGOT_OK) s = write_bytes(fd, path, buf, nbytes);
    free(buf);
    return s;
}

/* Writes the file contents to fd: length, header, data; then fsync. */
static ingot_status write_contents(int fd, const char *path, const char *header, size_t hlen,
                                   const save_item *items, size_t n) {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    ingot_status s = write_bytes(fd, path, len8, 8);
    if (s == INGOT_OK) s = write_bytes(fd, path, header, hlen);
    for (size_t i = 0; s == INGOT_OK && i < n; i++)
        s = write_array(fd, path, items[i].a);
    if (s == INGOT_OK && fsync(fd) != 0)
        s = ingot__error(INGOT_ERR_IO, "safetensors_save: %s: cannot fsync: %s", path,
                         strerror(errno));
    return s;
}

/* Writes to a fresh temporary file beside path, then renames it over path. */
static ingot_status write_file(const char *path, const char *header, size_t hlen,
                               const save_item *items, size_t n) {
    static atomic_uint counter;
    size_t size = strlen(path) + 48;
    char *tmp = malloc(size);
    if (!tmp) return oom("safetensors_save");
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, size, "%s.%ld.%u.tmp", path, (long)getpid(), atomic_fetch_add(&counter, 1u));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        ingot_status s = ingot__error(INGOT_ERR_IO, "safetensors_save: %s: cannot create: %s", tmp,
                                      strerror(errno));
        free(tmp);
        return s;
    }
    ingot_status s = write_contents(fd, tmp, header, hlen, items, n);
    if (close(fd) != 0 && s == INGOT_OK)
        s = ingot__error(INGOT_ERR_IO, "safetensors_save: %s: cannot close: %s", tmp,
                         strerror(errno));
    if (s == INGOT_OK && rename(tmp, path) != 0)
        s = ingot__error(INGOT_ERR_IO, "safetensors_save: cannot rename %s to %s: %s", tmp, path,
                         strerror(errno));
    if (s != INGOT_OK) unlink(tmp);
    free(tmp);
    return s;
}

ingot_status ingot_safetensors_save(const char *path, const char *const *names,
                                    const ingot_array *const *arrays, size_t n,
                                    const char *const *meta_keys, const char *const *meta_values,
                                    size_t n_meta) {
    static const char *op = "safetensors_save";
    INGOT__CHECK_NOT_NULL(path, op);
    if (!path[0]) return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: path is empty", op);
    if (n && (!names || !arrays))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT, "%s: names or arrays is NULL with n %zu",
                            op, n);
    if (n_meta && (!meta_keys || !meta_values))
        return ingot__error(INGOT_ERR_INVALID_ARGUMENT,
                            "%s: meta_keys or meta_values is NULL with n_meta %zu", op, n_meta);
    save_item *items = malloc((n ? n : 1) * sizeof *items);
    st_pair *meta = malloc((n_meta ? n_meta : 1) * sizeof *meta);
    char *header = NULL;
    size_t hlen = 0;
    ingot_status s = items && meta ? INGOT_OK : oom(op);
    if (s == INGOT_OK) s = save_args(items, meta, names, arrays, n, meta_keys, meta_values, n_meta);
    if (s == INGOT_OK) s = save_header(&header, &hlen, items, n, meta, n_meta);
    if (s == INGOT_OK) s = write_file(path, header, hlen, items, n);
    free(header);
    free(meta);
    free(items);
    return s;
}
