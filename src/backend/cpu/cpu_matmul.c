/* CPU matmul for f32, f16 and bf16: our own packed kernels, which convert
 * to f32, accumulate in f32 and round once to the output dtype. In general
 * a blocked kernel over output tiles; for a few rows times a transposed
 * weight (decoding) a dot-product kernel. Work is split over output elements
 * only, and the tiles and the kernel choice depend on shapes, strides and the
 * CPU alone, so every element is summed in the same order for any thread
 * count (no library's internal threading is involved). */
#include <pthread.h>

#include "backend/cpu/cpu.h"
#include "ingot/device.h"

/* ---- batch bookkeeping ---- */

/* One matrix operand of a batch: base pointer and element strides. */
typedef struct mm_operand {
    const char *data;       /* element 0 of the whole array */
    const int64_t *strides; /* [batch..., rows, cols] */
} mm_operand;

typedef struct mm_problem {
    int nbatch_dims;
    const int64_t *batch_shape;
    int64_t nbatch;
    int64_t m, n, k;
    mm_operand a; /* [..., M, K] */
    mm_operand b; /* [..., K, N] */
    char *out;    /* [..., M, N] contiguous */
    ingot_dtype dtype;
} mm_problem;

/* True when every batch dim of b is broadcast (stride 0) and a's batch dims
 * continue its row stride, so the batch folds into M: a is then one
 * [nbatch * M, K] matrix with row stride a.strides[rows]. */
static bool batch_folds_into_rows(const mm_problem *p) {
    const int64_t *sa = p->a.strides;
    int64_t expect = sa[p->nbatch_dims] * p->m;
    for (int d = p->nbatch_dims - 1; d >= 0; d--) {
        if (p->b.strides[d] != 0) return false;
        if (p->batch_shape[d] != 1 && sa[d] != expect) return false;
        expect *= p->batch_shape[d];
    }
    return true;
}

/* Turns a batch with a shared b into one matrix product of nbatch * M rows
 * (x [B, T, D] @ W [D, N] is one [B*T, D] @ [D, N]). The output is
 * contiguous, so its rows follow in the same order. */
static void fold_batch(mm_problem *p) {
    if (p->nbatch_dims == 0 || !batch_folds_into_rows(p)) return;
    p->m *= p->nbatch;
    p->a.strides += p->nbatch_dims;
    p->b.strides += p->nbatch_dims;
    p->nbatch = 1;
    p->nbatch_dims = 0;
}

/* Element offsets of batch matrix `batch` in a and b. */
static void mm_batch_offsets(const mm_problem *p, int64_t batch, int64_t *off_a, int64_t *off_b) {
    *off_a = 0;
    *off_b = 0;
    for (int d = p->nbatch_dims - 1; d >= 0; d--) {
        int64_t i = batch % p->batch_shape[d];
        batch /= p->batch_shape[d];
        *off_a += i * p->a.strides[d];
        *off_b += i * p->b.strides[d];
    }
}

/* ---- element loads ---- */

/* f16 -> f32 through a table of all 65536 values (filled once from
 * ingot__f16_to_f32); bf16 -> f32 is a shift. */
static float f16_table[1 << 16];
static pthread_once_t f16_table_once = PTHREAD_ONCE_INIT;

static void f16_table_init(void) {
    for (uint32_t h = 0; h < (1u << 16); h++)
        f16_table[h] = ingot__f16_to_f32((uint16_t)h);
}

/* Element i of x (of dtype dt: f32, bf16 or f16) as f32; dt is a constant
 * where this is inlined, so every kernel below is compiled once per dtype. */
static inline __attribute__((always_inline)) float load_f32(const void *x, int64_t i,
                                                            ingot_dtype dt) {
    if (dt == INGOT_F32) return ((const float *)x)[i];
    uint16_t h = ((const uint16_t *)x)[i];
    if (dt == INGOT_F16) return f16_table[h];
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element i of out (of dtype dt) = v, rounded once. */
static inline __attribute__((always_inline)) void store_f32(void *out, int64_t i, float v,
                                                            ingot_dtype dt) {
    if (dt == INGOT_F32)
        ((float *)out)[i] = v;
    else if (dt == INGOT_BF16)
        ((uint16_t *)out)[i] = ingot__f32_to_bf16(v);
    else
        ((uint16_t *)out)[i] = ingot__f32_to_f16(v);
}

/* ---- blocked kernel with f32 accumulation ----
 * An output tile [mc, nc] is computed in an f32 buffer: for each depth block
 * of KC, panels of A (MR rows) and B (NR columns) are converted to f32 and a
 * register-blocked micro-kernel adds their product, k in order. Each output
 * element is therefore a plain f32 sum over k = 0..K-1 in order (the blocking
 * never changes it), rounded once to the output dtype. */

enum {
    MR = 6,       /* micro-tile rows */
    NR = 16,      /* micro-tile columns: one vector of NR floats */
    MC = 16 * MR, /* rows of an output tile */
    NC = 256,     /* widest output tile (a multiple of NR) */
    KC = 256,     /* depth of one packed block */
    SCRATCH_FLOATS = MC * NC + MC * KC + KC * NC,
};

/* NR floats in one vector (GCC and clang vector extensions): one AVX-512
 * register, two AVX2 registers or four SSE registers, as the target of the
 * variant compiling it has. Moved with memcpy (unaligned loads and stores),
 * never passed by value: that would change the calling convention between
 * the variants. */
typedef float vec_nr __attribute__((vector_size(NR * sizeof(float))));

/* Packs a [mc, kc] block of A (element (i, k) at a[i * s_row + k * s_col])
 * into panels of MR rows, dst[panel][k][r]; rows past mc are zero. */
static inline __attribute__((always_inline)) void pack_a(float *restrict dst, const void *a,
                                                         int64_t s_row, int64_t s_col, int64_t mc,
                                                         int64_t kc, ingot_dtype dt) {
    for (int64_t ip = 0; ip < mc; ip += MR, dst += kc * MR) {
        int64_t rows = mc - ip < MR ? mc - ip : MR;
        for (int64_t r = 0; r < rows; r++) {
            int64_t row = (ip + r) * s_row;
            if (s_col == 1)
                for (int64_t k = 0; k < kc; k++)
                    dst[k * MR + r] = load_f32(a, row + k, dt);
            else
                for (int64_t k = 0; k < kc; k++)
                    dst[k * MR + r] = load_f32(a, row + k * s_col, dt);
        }
        for (int64_t r = rows; r < MR; r++)
            for (int64_t k = 0; k < kc; k++)
                dst[k * MR + r] = 0.0f;
    }
}

/* Packs a [kc, nc] block of B (element (k, j) at b[k * s_row + j * s_col])
 * into panels of NR columns, dst[panel][k][c]; columns past nc are zero. */
static inline __attribute__((always_inline)) void pack_b(float *restrict dst, const void *b,
                                                         int64_t s_row, int64_t s_col, int64_t kc,
                                                         int64_t nc, ingot_dtype dt) {
    for (int64_t jp = 0; jp < nc; jp += NR, dst += kc * NR) {
        int64_t cols = nc - jp < NR ? nc - jp : NR;
        if (s_col == 1) { /* rows of B are contiguous */
            for (int64_t k = 0; k < kc; k++) {
                for (int64_t c = 0; c < cols; c++)
                    dst[k * NR + c] = load_f32(b, k * s_row + jp + c, dt);
                for (int64_t c = cols; c < NR; c++)
                    dst[k * NR + c] = 0.0f;
            }
        } else { /* walk down each column (contiguous when B is a transposed view) */
            for (int64_t c = 0; c < cols; c++) {
                int64_t col = (jp + c) * s_col;
                for (int64_t k = 0; k < kc; k++)
                    dst[k * NR + c] = load_f32(b, col + k * s_row, dt);
            }
            for (int64_t k = 0; k < kc; k++)
                for (int64_t c = cols; c < NR; c++)
                    dst[k * NR + c] = 0.0f;
        }
    }
}

/* c[rows][ldc] += ap (kc x MR, first `rows` used) * bp (kc x NR), k in
 * order: one vector accumulator per row. Called with constant rows so each
 * row count gets its own code. */
static inline __attribute__((always_inline)) void micro_kernel(int rows, int64_t kc,
                                                               const float *restrict ap,
                                                               const float *restrict bp,
                                                               float *restrict c, int64_t ldc) {
    vec_nr acc[MR], b;
    for (int r = 0; r < rows; r++)
        memcpy(&acc[r], c + r * ldc, sizeof acc[r]);
    for (int64_t k = 0; k < kc; k++) {
        memcpy(&b, bp + k * NR, sizeof b);
        for (int r = 0; r < rows; r++)
            acc[r] += ap[k * MR + r] * b;
    }
    for (int r = 0; r < rows; r++)
        memcpy(c + r * ldc, &acc[r], sizeof acc[r]);
}

/* One output tile: rows [i0, i0 + mc), columns [j0, j0 + nc) of a batch matrix. */
typedef struct mm_tile {
    const void *a, *b; /* at (i0, 0) and (0, j0) of this batch's matrices */
    int64_t sa_row, sa_col, sb_row, sb_col;
    int64_t mc, nc, k;
    int64_t ldc; /* row stride of the f32 tile buffer */
    void *out;   /* at (i0, j0) of the output */
    int64_t ld_out;
    ingot_dtype dtype; /* of a, b and out */
} mm_tile;

static inline __attribute__((always_inline)) void tile_dtype(const mm_tile *t, float *scratch,
                                                             ingot_dtype dt) {
    size_t esize = dt == INGOT_F32 ? 4 : 2;
    float *ctile = scratch;           /* [MC, ldc] */
    float *apack = scratch + MC * NC; /* [MC / MR][KC][MR] */
    float *bpack = apack + MC * KC;   /* [NC / NR][KC][NR] */
    int64_t nc_pad = (t->nc + NR - 1) / NR * NR;
    for (int64_t i = 0; i < t->mc; i++)
        for (int64_t j = 0; j < nc_pad; j++)
            ctile[i * t->ldc + j] = 0.0f;
    for (int64_t k0 = 0; k0 < t->k; k0 += KC) {
        int64_t kc = t->k - k0 < KC ? t->k - k0 : KC;
        const char *ak = (const char *)t->a + (size_t)(k0 * t->sa_col) * esize;
        const char *bk = (const char *)t->b + (size_t)(k0 * t->sb_row) * esize;
        pack_a(apack, ak, t->sa_row, t->sa_col, t->mc, kc, dt);
        pack_b(bpack, bk, t->sb_row, t->sb_col, kc, t->nc, dt);
        for (int64_t jp = 0; jp < nc_pad; jp += NR) {
            for (int64_t ip = 0; ip < t->mc; ip += MR) {
                const float *ap = apack + ip * kc, *bp = bpack + jp * kc;
                float *c = ctile + ip * t->ldc + jp;
                switch (t->mc - ip < MR ? t->mc - ip : MR) {
                case 1: micro_kernel(1, kc, ap, bp, c, t->ldc); break;
                case 2: micro_kernel(2, kc, ap, bp, c, t->ldc); break;
                case 3: micro_kernel(3, kc, ap, bp, c, t->ldc); break;
                case 4: micro_kernel(4, kc, ap, bp, c, t->ldc); break;
                case 5: micro_kernel(5, kc, ap, bp, c, t->ldc); break;
                default: micro_kernel(MR, kc, ap, bp, c, t->ldc); break;
                }
            }
        }
    }
    for (int64_t i = 0; i < t->mc; i++)
        for (int64_t j = 0; j < t->nc; j++)
            store_f32(t->out, i * t->ld_out + j, ctile[i * t->ldc + j], dt);
}

static inline __attribute__((always_inline)) void tile_body(const mm_tile *t, float *scratch) {
    switch (t->dtype) {
    case INGOT_F32: tile_dtype(t, scratch, INGOT_F32); break;
    case INGOT_BF16: tile_dtype(t, scratch, INGOT_BF16); break;
    default: tile_dtype(t, scratch, INGOT_F16); break;
    }
}

/* Dot-product kernel for few rows of A times a B whose columns are
 * contiguous along k (x @ W^T with W stored [N, K]): out[i, j] = a_i . b_j
 * with 16 lane sums (lane l takes k = l mod 16, in order) added in a fixed
 * tree, so B streams once without repacking. */
enum { DOT_MAX_ROWS = 4, LANES = 16 };

typedef struct dot_job {
    const float *a; /* [m, k] in f32 */
    const void *b;  /* column j at b + j * s_col elements, contiguous along k */
    int64_t s_col;
    int64_t m, k, n;
    void *out;         /* [m, n] */
    ingot_dtype dtype; /* of b and out: bf16, f16 or f32 */
} dot_job;

static inline __attribute__((always_inline)) void dot_columns(const dot_job *t, int64_t j0,
                                                              int64_t j1, ingot_dtype dt) {
    size_t esize = dt == INGOT_F32 ? 4 : 2;
    for (int64_t j = j0; j < j1; j++) {
        const void *bj = (const char *)t->b + (size_t)(j * t->s_col) * esize;
        for (int64_t i = 0; i < t->m; i++) {
            const float *ai = t->a + i * t->k;
            float acc[LANES] = {0};
            int64_t k0 = 0;
            for (; k0 + LANES <= t->k; k0 += LANES)
                for (int l = 0; l < LANES; l++)
                    acc[l] += ai[k0 + l] * load_f32(bj, k0 + l, dt);
            for (int l = 0; k0 + l < t->k; l++)
                acc[l] += ai[k0 + l] * load_f32(bj, k0 + l, dt);
            for (int w = LANES / 2; w >= 1; w /= 2)
                for (int l = 0; l < w; l++)
                    acc[l] += acc[l + w];
            store_f32(t->out, i * t->n + j, acc[0], dt);
        }
    }
}

static inline __attribute__((always_inline)) void dot_body(const dot_job *t, int64_t j0,
                                                           int64_t j1) {
    switch (t->dtype) {
    case INGOT_F32: dot_columns(t, j0, j1, INGOT_F32); break;
    case INGOT_BF16: dot_columns(t, j0, j1, INGOT_BF16); break;
    default: dot_columns(t, j0, j1, INGOT_F16); break;
    }
}

/* The kernels compiled for the baseline and, on x86-64, for AVX2+FMA and
 * AVX-512; picked once per call. This file is compiled with
 * -ffp-contract=fast (CMakeLists.txt), so the FMA variants fuse each
 * multiply-add under gcc and clang alike; every variant sums in the same
 * order, so a given machine gives the same result for any thread count. */
typedef struct mm_kernels {
    void (*tile)(const mm_tile *t, float *scratch);
    void (*dot)(const dot_job *t, int64_t j0, int64_t j1);
} mm_kernels;

#define MM_VARIANT(name, attr)                                                                     \
    attr static void tile_##name(const mm_tile *t, float *scratch) { tile_body(t, scratch); }      \
    attr static void dot_##name(const dot_job *t, int64_t j0, int64_t j1) { dot_body(t, j0, j1); }

MM_VARIANT(generic, )
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
MM_VARIANT(avx2, __attribute__((target("avx2,fma"))))
MM_VARIANT(avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))))
#endif

static atomic_int isa_cap = INGOT__ISA_AVX512;

void ingot__cpu_set_isa_cap(ingot__isa cap) { atomic_store(&isa_cap, (int)cap); }

ingot__isa ingot__cpu_isa(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
        return INGOT__ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return INGOT__ISA_AVX2;
#endif
    return INGOT__ISA_BASELINE;
}

static mm_kernels pick_kernels(ingot_dtype dtype) {
    if (dtype == INGOT_F16) pthread_once(&f16_table_once, f16_table_init);
    ingot__isa isa = ingot__cpu_isa();
    int cap = atomic_load(&isa_cap);
    switch ((int)isa < cap ? (int)isa : cap) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    case INGOT__ISA_AVX512: return (mm_kernels){tile_avx512, dot_avx512};
    case INGOT__ISA_AVX2: return (mm_kernels){tile_avx2, dot_avx2};
#endif
    default: return (mm_kernels){tile_generic, dot_generic};
    }
}

typedef struct tile_ctx {
    const mm_problem *p;
    void (*tile_fn)(const mm_tile *t, float *scratch);
    int64_t nc;               /* output tile width (a multiple of NR, <= NC) */
    int64_t tiles_m, tiles_n; /* output tiles per matrix */
    atomic_int failed;        /* scratch allocation failed */
} tile_ctx;

static void tile_range(void *vctx, int64_t begin, int64_t end) {
    tile_ctx *ctx = vctx;
    const mm_problem *p = ctx->p;
    const int nb = p->nbatch_dims;
    size_t esize = ingot_dtype_size(p->dtype);
    size_t bytes = SCRATCH_FLOATS * sizeof(float);
    float *scratch = ingot__host_alloc(bytes);
    if (!scratch) {
        atomic_store(&ctx->failed, 1);
        return;
    }
    int64_t per_matrix = ctx->tiles_m * ctx->tiles_n;
    for (int64_t t = begin; t < end; t++) {
        int64_t batch = t / per_matrix, rest = t % per_matrix;
        int64_t i0 = rest / ctx->tiles_n * MC, j0 = rest % ctx->tiles_n * ctx->nc;
        int64_t off_a, off_b;
        mm_batch_offsets(p, batch, &off_a, &off_b);
        mm_tile tile = {
            .sa_row = p->a.strides[nb],
            .sa_col = p->a.strides[nb + 1],
            .sb_row = p->b.strides[nb],
            .sb_col = p->b.strides[nb + 1],
            .mc = p->m - i0 < MC ? p->m - i0 : MC,
            .nc = p->n - j0 < ctx->nc ? p->n - j0 : ctx->nc,
            .k = p->k,
            .ldc = ctx->nc,
            .ld_out = p->n,
            .dtype = p->dtype,
        };
        tile.a = p->a.data + (size_t)(off_a + i0 * tile.sa_row) * esize;
        tile.b = p->b.data + (size_t)(off_b + j0 * tile.sb_col) * esize;
        tile.out = p->out + (size_t)((batch * p->m + i0) * p->n + j0) * esize;
        ctx->tile_fn(&tile, scratch);
    }
    ingot__host_free(scratch, bytes);
}

typedef struct dot_ctx {
    const dot_job *job;
    void (*dot_fn)(const dot_job *t, int64_t j0, int64_t j1);
} dot_ctx;

static void dot_range(void *vctx, int64_t begin, int64_t end) {
    const dot_ctx *ctx = vctx;
    ctx->dot_fn(ctx->job, begin, end);
}

/* The dot-product path for one matrix (see dot_job). */
static ingot_status matmul_dot(const mm_problem *p, const mm_kernels *kernels) {
    const int nb = p->nbatch_dims; /* all of size 1 */
    int64_t sa_row = p->a.strides[nb], sa_col = p->a.strides[nb + 1];
    size_t bytes = (size_t)(p->m * p->k) * sizeof(float);
    float *af = ingot__host_alloc(bytes); /* [m, k] */
    if (!af)
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "matmul: no memory for a %zu-byte copy",
                            bytes);
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t k = 0; k < p->k; k++)
            af[i * p->k + k] = load_f32(p->a.data, i * sa_row + k * sa_col, p->dtype);
    dot_job job = {.a = af,
                   .b = p->b.data,
                   .s_col = p->b.strides[nb + 1],
                   .m = p->m,
                   .k = p->k,
                   .n = p->n,
                   .out = p->out,
                   .dtype = p->dtype};
    dot_ctx ctx = {&job, kernels->dot};
    int64_t grain = (1 << 16) / (p->m * p->k);
    ingot__parallel_for(p->n, grain > 0 ? grain : 1, dot_range, &ctx);
    ingot__host_free(af, bytes);
    return INGOT_OK;
}

/* Whether the dot-product path serves p: one matrix of a few rows times a
 * b whose columns are contiguous along k (a transposed weight). */
static bool use_dot(const mm_problem *p) {
    return p->nbatch == 1 && p->m <= DOT_MAX_ROWS && p->b.strides[p->nbatch_dims] == 1;
}

static ingot_status matmul_tiled(const mm_problem *p, const mm_kernels *kernels) {
    tile_ctx ctx = {.p = p, .tile_fn = kernels->tile, .nc = NC, .tiles_m = (p->m + MC - 1) / MC};
    /* narrower tiles until every thread has a few (the result does not
     * depend on the tiling) */
    int64_t want = 4 * (int64_t)ingot_get_num_threads();
    while (ctx.nc > NR && p->nbatch * ctx.tiles_m * ((p->n + ctx.nc - 1) / ctx.nc) < want)
        ctx.nc /= 2;
    ctx.tiles_n = (p->n + ctx.nc - 1) / ctx.nc;
    atomic_init(&ctx.failed, 0);
    ingot__parallel_for(p->nbatch * ctx.tiles_m * ctx.tiles_n, 1, tile_range, &ctx);
    if (atomic_load(&ctx.failed))
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "matmul: no memory for tile buffers");
    return INGOT_OK;
}

ingot_status ingot__cpu_matmul(ingot_array *out, const ingot_array *a, const ingot_array *b) {
    const int nd = out->ndim;
    if (out->size == 0) return INGOT_OK;
    if (a->shape[nd - 1] == 0) { /* K = 0: a sum of nothing */
        memset(ingot__data(out), 0, (size_t)out->size * ingot_dtype_size(out->dtype));
        return INGOT_OK;
    }
    mm_problem p = {
        .nbatch_dims = nd - 2,
        .batch_shape = out->shape,
        .nbatch = 1,
        .m = out->shape[nd - 2],
        .n = out->shape[nd - 1],
        .k = a->shape[nd - 1],
        .a = {ingot__data(a), a->strides},
        .b = {ingot__data(b), b->strides},
        .out = ingot__data(out),
        .dtype = out->dtype,
    };
    if (p.dtype != INGOT_F32 && p.dtype != INGOT_F16 && p.dtype != INGOT_BF16)
        return ingot__error(INGOT_ERR_DTYPE, "matmul: unsupported dtype %s",
                            ingot_dtype_name(p.dtype));
    for (int d = 0; d < p.nbatch_dims; d++)
        p.nbatch *= out->shape[d];
    fold_batch(&p);
    mm_kernels kernels = pick_kernels(p.dtype);
    return use_dot(&p) ? matmul_dot(&p, &kernels) : matmul_tiled(&p, &kernels);
}
