/* CPU sorting: stable ascending sort along one axis (NaN last) and
 * argpartition.
 *
 * Each row's elements are mapped to unsigned 64-bit keys whose unsigned order
 * is the element order (floats: IEEE bits with the sign folded, -0 taken as
 * +0, every NaN the largest key; integers: the sign bit flipped), paired with
 * their positions and merge sorted by (key, position): a total order, which
 * gives exactly the stable sort by key. Rows are split over threads; each row
 * is sorted by one thread, so results do not depend on the thread count.
 *
 * argpartition runs quickselect in the same order, so the item at kth is the
 * one the stable sort puts there: O(n) per row on average; after 2 log2(n) + 4 rounds without
 * finishing it merge sorts the remaining range, so the worst case is
 * O(n log n). */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"

#define INSERTION_RUN 32

typedef struct sort_item {
    uint64_t key;
    int64_t idx;
} sort_item;

static uint64_t float_key(double x) {
    if (isnan(x)) return UINT64_MAX;
    if (x == 0) x = 0.0; /* -0 and +0 are equal: keep their order */
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}

static uint64_t int_key(int64_t v) { return (uint64_t)v ^ (UINT64_C(1) << 63); }

static bool item_less(sort_item a, sort_item b) {
    return a.key < b.key || (a.key == b.key && a.idx < b.idx);
}

/* Sorts v[0..n) by (key, position), a total order (so the result is that of
 * a stable sort by key from position order); tmp holds n items of scratch. */
static void merge_sort(sort_item *v, sort_item *tmp, int64_t n) {
    for (int64_t lo = 0; lo < n; lo += INSERTION_RUN) {
        int64_t hi = lo + INSERTION_RUN < n ? lo + INSERTION_RUN : n;
        for (int64_t i = lo + 1; i < hi; i++) {
            sort_item x = v[i];
            int64_t j = i;
            for (; j > lo && item_less(x, v[j - 1]); j--) v[j] = v[j - 1];
            v[j] = x;
        }
    }
    sort_item *src = v, *dst = tmp;
    for (int64_t w = INSERTION_RUN; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = item_less(src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        sort_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) memcpy(v, src, (size_t)n * sizeof *v);
}

static sort_item median3(sort_item a, sort_item b, sort_item c) {
    if (item_less(a, b)) return item_less(b, c) ? b : item_less(a, c) ? c : a;
    return item_less(a, c) ? a : item_less(b, c) ? c : b;
}

/* Rearranges v[0..n) so v[kth] is the item a sort would put there, with
 * smaller items before it and larger ones after; tmp holds n items. */
static void select_kth(sort_item *v, sort_item *tmp, int64_t n, int64_t kth) {
    int64_t lo = 0, hi = n; /* the range still holding kth */
    int rounds = 4;
    for (int64_t m = n; m > 1; m >>= 1) rounds += 2;
    while (hi - lo > INSERTION_RUN && rounds-- > 0) {
        sort_item pivot = median3(v[lo], v[lo + (hi - lo) / 2], v[hi - 1]);
        int64_t i = lo - 1, j = hi; /* Hoare partition: [lo, j] <= pivot <= (j, hi) */
        for (;;) {
            do i++; while (item_less(v[i], pivot));
            do j--; while (item_less(pivot, v[j]));
            if (i >= j) break;
            sort_item t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        if (kth <= j) hi = j + 1;
        else lo = j + 1;
    }
    merge_sort(v + lo, tmp, hi - lo);
}

typedef struct sort_ctx {
    const char *src;
    ingot_dtype dt;
    char *values;     /* contiguous, a's shape and dtype; or NULL */
    int64_t *indices; /* contiguous, a's shape; or NULL */
    int nd;           /* dims other than axis */
    int64_t shape[INGOT_MAX_DIMS];
    int64_t astride[INGOT_MAX_DIMS], ostride[INGOT_MAX_DIMS];
    int64_t n, as, os; /* row length and its strides in a and the outputs */
    int64_t kth;       /* argpartition: the position to select; -1 sorts */
    atomic_bool failed;
} sort_ctx;

static void sort_row(const sort_ctx *c, sort_item *items, sort_item *tmp, int64_t aoff,
                     int64_t ooff) {
    size_t esz = ingot_dtype_size(c->dt);
    bool fl = ingot_dtype_is_float(c->dt);
    for (int64_t j = 0; j < c->n; j++) {
        const char *p = c->src + (aoff + j * c->as) * (int64_t)esz;
        items[j].key = fl ? float_key(ingot__load_f64(p, c->dt))
                          : int_key(ingot__load_i64(p, c->dt));
        items[j].idx = j;
    }
    if (c->kth >= 0) select_kth(items, tmp, c->n, c->kth);
    else merge_sort(items, tmp, c->n);
    for (int64_t j = 0; j < c->n; j++) {
        int64_t o = ooff + j * c->os;
        const char *from = c->src + (aoff + items[j].idx * c->as) * (int64_t)esz;
        if (c->values) memcpy(c->values + o * (int64_t)esz, from, esz);
        if (c->indices) c->indices[o] = items[j].idx;
    }
}

static void sort_range(void *ctx, int64_t begin, int64_t end) {
    sort_ctx *c = ctx;
    sort_item *items = malloc(2 * (size_t)c->n * sizeof *items);
    if (!items) {
        atomic_store(&c->failed, true);
        return;
    }
    const int64_t *strides[2] = {c->astride, c->ostride};
    int64_t start[2] = {0, 0};
    ingot__iter it;
    ingot__iter_init(&it, c->shape, c->nd, 2, strides, start, begin);
    for (int64_t r = begin; r < end; r++, ingot__iter_next(&it))
        sort_row(c, items, items + c->n, it.off[0], it.off[1]);
    free(items);
}

/* Sorts (kth < 0) or partitions around kth every row of a along axis. */
static ingot_status sort_rows(ingot_array *values, ingot_array *indices, const ingot_array *a,
                              int axis, int64_t kth, const char *op) {
    sort_ctx c = {.src = ingot__data(a), .dt = a->dtype, .nd = 0, .kth = kth};
    c.values = values ? ingot__data(values) : NULL;
    c.indices = indices ? ingot__data(indices) : NULL;
    atomic_init(&c.failed, false);
    int64_t ostrides[INGOT_MAX_DIMS];
    ingot__contiguous_strides(ostrides, a->shape, a->ndim);
    for (int d = 0; d < a->ndim; d++) {
        if (d == axis) continue;
        c.shape[c.nd] = a->shape[d];
        c.astride[c.nd] = a->strides[d];
        c.ostride[c.nd++] = ostrides[d];
    }
    c.n = a->shape[axis];
    c.as = a->strides[axis];
    c.os = ostrides[axis];
    if (c.n == 0) return INGOT_OK;
    int64_t rows = a->size / c.n;
    int64_t grain = 4096 / c.n;
    ingot__parallel_for(rows, grain > 0 ? grain : 1, sort_range, &c);
    if (atomic_load(&c.failed))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "%s: out of memory for rows of %lld", op,
                            (long long)c.n);
    return INGOT_OK;
}

ingot_status ingot__cpu_sort(ingot_array *values, ingot_array *indices, const ingot_array *a,
                             int axis) {
    return sort_rows(values, indices, a, axis, -1, "sort");
}

ingot_status ingot__cpu_argpartition(ingot_array *indices, const ingot_array *a, int kth,
                                     int axis) {
    return sort_rows(NULL, indices, a, axis, kth, "argpartition");
}
