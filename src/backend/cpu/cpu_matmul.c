/* CPU matmul: f32 through OpenBLAS (one sgemm per batch matrix, or one for
 * the whole batch when b is shared and a's batch folds into its rows); f16
 * and bf16 through our own kernels that convert to f32, accumulate in f32 and
 * round once: a blocked kernel in general. For a few rows times a transposed
 * weight (decoding) every float dtype takes our dot-product kernel. Work is split over output
 * elements only and the kernel choice depends on shapes and strides alone, so
 * every element is summed in the same order for any thread count. */
#include <cblas.h>
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

/* ---- f32 through OpenBLAS ---- */

/* How a strided [rows, cols] f32 matrix can be handed to row-major sgemm:
 * directly (trans false, leading dim *ld) or as the transpose of a row-major
 * [cols, rows] matrix (trans true). False when it needs a copy. */
static bool blas_layout(int64_t s_row, int64_t s_col, int64_t rows, int64_t cols, bool *trans,
                        int64_t *ld) {
    if (s_row > INT32_MAX || s_col > INT32_MAX) return false; /* BLAS takes int */
    int64_t min_ld_plain = cols > 1 ? cols : 1;
    int64_t min_ld_trans = rows > 1 ? rows : 1;
    if (cols == 1 || s_col == 1) {
        if (rows == 1) {
            *trans = false;
            *ld = min_ld_plain;
            return true;
        }
        if (s_row >= min_ld_plain) {
            *trans = false;
            *ld = s_row;
            return true;
        }
    }
    if (rows == 1 || s_row == 1) {
        if (cols == 1) {
            *trans = true;
            *ld = min_ld_trans;
            return true;
        }
        if (s_col >= min_ld_trans) {
            *trans = true;
            *ld = s_col;
            return true;
        }
    }
    return false;
}

/* Bytes of the copy a strided [rows, cols] matrix needs before sgemm (0 when
 * blas_layout accepts it as it is). */
static size_t copy_bytes(int64_t s_row, int64_t s_col, int64_t rows, int64_t cols) {
    bool trans;
    int64_t ld;
    if (blas_layout(s_row, s_col, rows, cols, &trans, &ld)) return 0;
    return (size_t)(rows * cols) * sizeof(float);
}

/* dst (row-major [rows, cols]) = the strided f32 matrix at src. */
static void copy_f32_matrix(float *dst, const float *src, int64_t s_row, int64_t s_col,
                            int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            dst[i * cols + j] = src[i * s_row + j * s_col];
}

/* A BLAS-ready view of one f32 matrix: the original or a packed copy in
 * scratch (rows * cols floats). */
typedef struct blas_matrix {
    const float *ptr;
    bool trans;
    int64_t ld;
} blas_matrix;

static blas_matrix blas_prepare(const float *src, int64_t s_row, int64_t s_col, int64_t rows,
                                int64_t cols, float *scratch) {
    blas_matrix m = {src, false, 0};
    if (blas_layout(s_row, s_col, rows, cols, &m.trans, &m.ld)) return m;
    copy_f32_matrix(scratch, src, s_row, s_col, rows, cols);
    m.ptr = scratch;
    m.trans = false;
    m.ld = cols > 1 ? cols : 1;
    return m;
}

/* Depth of one sgemm call. OpenBLAS splits K into blocks of GEMM_Q (384 on
 * current x86 targets) and, past one block, splits differently when it runs
 * threaded, which changes the rounding. Calls of at most SGEMM_K_CHUNK keep
 * each call to one block, and the chunks are added into C in order (beta 1),
 * so the result does not depend on the thread count. */
enum { SGEMM_K_CHUNK = 256 };

/* c [m, n] = a [m, k] @ b [k, n] through sgemm calls of depth <= SGEMM_K_CHUNK. */
static void sgemm_chunked(const blas_matrix *a, const blas_matrix *b, float *c, int64_t m,
                          int64_t n, int64_t k) {
    for (int64_t k0 = 0; k0 < k; k0 += SGEMM_K_CHUNK) {
        int64_t kc = k - k0 < SGEMM_K_CHUNK ? k - k0 : SGEMM_K_CHUNK;
        /* column k0 of a and row k0 of b in their stored layouts */
        const float *ak = a->ptr + (a->trans ? k0 * a->ld : k0);
        const float *bk = b->ptr + (b->trans ? k0 : k0 * b->ld);
        cblas_sgemm(CblasRowMajor, a->trans ? CblasTrans : CblasNoTrans,
                    b->trans ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)kc, 1.0f, ak,
                    (int)a->ld, bk, (int)b->ld, k0 ? 1.0f : 0.0f, c, (int)n);
    }
}

static ingot_status matmul_f32(const mm_problem *p) {
    const int nb = p->nbatch_dims;
    int64_t m = p->m, nbatch = p->nbatch;
    int64_t sa_r = p->a.strides[nb], sa_c = p->a.strides[nb + 1];
    int64_t sb_r = p->b.strides[nb], sb_c = p->b.strides[nb + 1];
    if (m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
        return ingot__error(INGOT_ERR_LIMIT, "matmul: matrix dims (%lld,%lld,%lld) exceed BLAS's",
                            (long long)m, (long long)p->n, (long long)p->k);
    size_t scratch_a = copy_bytes(sa_r, sa_c, m, p->k);
    size_t scratch_b = copy_bytes(sb_r, sb_c, p->k, p->n);
    float *scratch = NULL;
    if (scratch_a + scratch_b > 0) {
        scratch = ingot__host_alloc(scratch_a + scratch_b);
        if (!scratch)
            return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "matmul: no memory for a %zu-byte copy",
                                scratch_a + scratch_b);
    }
    float *scratch_b_ptr = scratch ? scratch + scratch_a / sizeof(float) : NULL;
    for (int64_t batch = 0; batch < nbatch; batch++) {
        int64_t off_a, off_b;
        mm_batch_offsets(p, batch, &off_a, &off_b);
        blas_matrix a =
            blas_prepare((const float *)p->a.data + off_a, sa_r, sa_c, m, p->k, scratch);
        blas_matrix b =
            blas_prepare((const float *)p->b.data + off_b, sb_r, sb_c, p->k, p->n, scratch_b_ptr);
        float *c = (float *)p->out + batch * m * p->n;
        sgemm_chunked(&a, &b, c, m, p->n, p->k);
    }
    ingot__host_free(scratch, scratch_a + scratch_b);
    return INGOT_OK;
}

/* ---- f16 / bf16: blocked kernel with f32 accumulation ----
 * An output tile [mc, nc] is computed in an f32 buffer: for each depth block
 * of KC, panels of A (MR rows) and B (NR columns) are converted to f32 and a
 * register-blocked micro-kernel adds their product, k in order. Each output
 * element is therefore a plain f32 sum over k = 0..K-1 in order (the blocking
 * never changes it), rounded once to the output dtype. */

enum {
    MR = 6,       /* micro-tile rows */
    NR = 16,      /* micro-tile columns */
    MC = 16 * MR, /* rows of an output tile */
    NC = 256,     /* widest output tile (a multiple of NR) */
    KC = 256,     /* depth of one packed block */
    SCRATCH_FLOATS = MC * NC + MC * KC + KC * NC,
};

/* f16 -> f32 through a table of all 65536 values (filled once from
 * ingot__f16_to_f32); bf16 -> f32 is a shift. */
static float f16_table[1 << 16];
static pthread_once_t f16_table_once = PTHREAD_ONCE_INIT;

static void f16_table_init(void) {
    for (uint32_t h = 0; h < (1u << 16); h++)
        f16_table[h] = ingot__f16_to_f32((uint16_t)h);
}

static inline __attribute__((always_inline)) float half_to_f32(uint16_t h, bool bf16) {
    if (!bf16) return f16_table[h];
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Packs a [mc, kc] block of A (element (i, k) at a[i * s_row + k * s_col])
 * into panels of MR rows, dst[panel][k][r]; rows past mc are zero. */
static inline __attribute__((always_inline)) void pack_a(float *restrict dst, const uint16_t *a,
                                                         int64_t s_row, int64_t s_col, int64_t mc,
                                                         int64_t kc, bool bf16) {
    for (int64_t ip = 0; ip < mc; ip += MR, dst += kc * MR) {
        int64_t rows = mc - ip < MR ? mc - ip : MR;
        for (int64_t r = 0; r < rows; r++) {
            const uint16_t *src = a + (ip + r) * s_row;
            if (s_col == 1)
                for (int64_t k = 0; k < kc; k++)
                    dst[k * MR + r] = half_to_f32(src[k], bf16);
            else
                for (int64_t k = 0; k < kc; k++)
                    dst[k * MR + r] = half_to_f32(src[k * s_col], bf16);
        }
        for (int64_t r = rows; r < MR; r++)
            for (int64_t k = 0; k < kc; k++)
                dst[k * MR + r] = 0.0f;
    }
}

/* Packs a [kc, nc] block of B (element (k, j) at b[k * s_row + j * s_col])
 * into panels of NR columns, dst[panel][k][c]; columns past nc are zero. */
static inline __attribute__((always_inline)) void pack_b(float *restrict dst, const uint16_t *b,
                                                         int64_t s_row, int64_t s_col, int64_t kc,
                                                         int64_t nc, bool bf16) {
    for (int64_t jp = 0; jp < nc; jp += NR, dst += kc * NR) {
        int64_t cols = nc - jp < NR ? nc - jp : NR;
        if (s_col == 1) { /* rows of B are contiguous */
            for (int64_t k = 0; k < kc; k++) {
                const uint16_t *src = b + k * s_row + jp;
                for (int64_t c = 0; c < cols; c++)
                    dst[k * NR + c] = half_to_f32(src[c], bf16);
                for (int64_t c = cols; c < NR; c++)
                    dst[k * NR + c] = 0.0f;
            }
        } else { /* walk down each column (contiguous when B is a transposed view) */
            for (int64_t c = 0; c < cols; c++) {
                const uint16_t *src = b + (jp + c) * s_col;
                for (int64_t k = 0; k < kc; k++)
                    dst[k * NR + c] = half_to_f32(src[k * s_row], bf16);
            }
            for (int64_t k = 0; k < kc; k++)
                for (int64_t c = cols; c < NR; c++)
                    dst[k * NR + c] = 0.0f;
        }
    }
}

/* c[rows][ldc] += ap (kc x MR, first `rows` used) * bp (kc x NR), k in
 * order. Called with constant rows so each row count gets its own code. */
static inline __attribute__((always_inline)) void micro_kernel(int rows, int64_t kc,
                                                               const float *restrict ap,
                                                               const float *restrict bp,
                                                               float *restrict c, int64_t ldc) {
    float acc[MR][NR];
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < NR; j++)
            acc[r][j] = c[r * ldc + j];
    for (int64_t k = 0; k < kc; k++) {
        const float *brow = bp + k * NR;
        for (int r = 0; r < rows; r++) {
            float av = ap[k * MR + r];
            for (int j = 0; j < NR; j++)
                acc[r][j] += av * brow[j];
        }
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < NR; j++)
            c[r * ldc + j] = acc[r][j];
}

/* One output tile: rows [i0, i0 + mc), columns [j0, j0 + nc) of a batch matrix. */
typedef struct half_tile {
    const uint16_t *a, *b; /* at (i0, 0) and (0, j0) of this batch's matrices */
    int64_t sa_row, sa_col, sb_row, sb_col;
    int64_t mc, nc, k;
    int64_t ldc; /* row stride of the f32 tile buffer */
    uint16_t *out;
    int64_t ld_out;
    bool bf16;
} half_tile;

static inline __attribute__((always_inline)) void half_tile_body(const half_tile *t,
                                                                 float *scratch) {
    float *ctile = scratch;           /* [MC, ldc] */
    float *apack = scratch + MC * NC; /* [MC / MR][KC][MR] */
    float *bpack = apack + MC * KC;   /* [NC / NR][KC][NR] */
    int64_t nc_pad = (t->nc + NR - 1) / NR * NR;
    for (int64_t i = 0; i < t->mc; i++)
        for (int64_t j = 0; j < nc_pad; j++)
            ctile[i * t->ldc + j] = 0.0f;
    for (int64_t k0 = 0; k0 < t->k; k0 += KC) {
        int64_t kc = t->k - k0 < KC ? t->k - k0 : KC;
        pack_a(apack, t->a + k0 * t->sa_col, t->sa_row, t->sa_col, t->mc, kc, t->bf16);
        pack_b(bpack, t->b + k0 * t->sb_row, t->sb_row, t->sb_col, kc, t->nc, t->bf16);
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
    for (int64_t i = 0; i < t->mc; i++) {
        uint16_t *orow = t->out + i * t->ld_out;
        const float *crow = ctile + i * t->ldc;
        if (t->bf16)
            for (int64_t j = 0; j < t->nc; j++)
                orow[j] = ingot__f32_to_bf16(crow[j]);
        else
            for (int64_t j = 0; j < t->nc; j++)
                orow[j] = ingot__f32_to_f16(crow[j]);
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

/* Element i of b as f32 (dt a constant where this is inlined, so every
 * kernel below is compiled once per dtype). */
static inline __attribute__((always_inline)) float weight_at(const void *b, int64_t i,
                                                             ingot_dtype dt) {
    if (dt == INGOT_F32) return ((const float *)b)[i];
    return half_to_f32(((const uint16_t *)b)[i], dt == INGOT_BF16);
}

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
                    acc[l] += ai[k0 + l] * weight_at(bj, k0 + l, dt);
            for (int l = 0; k0 + l < t->k; l++)
                acc[l] += ai[k0 + l] * weight_at(bj, k0 + l, dt);
            for (int w = LANES / 2; w >= 1; w /= 2)
                for (int l = 0; l < w; l++)
                    acc[l] += acc[l + w];
            int64_t o = i * t->n + j;
            if (dt == INGOT_F32)
                ((float *)t->out)[o] = acc[0];
            else if (dt == INGOT_BF16)
                ((uint16_t *)t->out)[o] = ingot__f32_to_bf16(acc[0]);
            else
                ((uint16_t *)t->out)[o] = ingot__f32_to_f16(acc[0]);
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
 * AVX-512; picked once per call. Every variant sums in the same order (FMA
 * variants round each multiply-add once), so a given machine gives the same
 * result for any thread count. */
typedef struct half_kernels {
    void (*tile)(const half_tile *t, float *scratch);
    void (*dot)(const dot_job *t, int64_t j0, int64_t j1);
} half_kernels;

#define HALF_VARIANT(name, attr)                                                                   \
    attr static void half_tile_##name(const half_tile *t, float *scratch) {                        \
        half_tile_body(t, scratch);                                                                \
    }                                                                                              \
    attr static void dot_##name(const dot_job *t, int64_t j0, int64_t j1) { dot_body(t, j0, j1); }

HALF_VARIANT(generic, )
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
HALF_VARIANT(avx2, __attribute__((target("avx2,fma"))))
HALF_VARIANT(avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))))
#endif

static half_kernels pick_half_kernels(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
        return (half_kernels){half_tile_avx512, dot_avx512};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return (half_kernels){half_tile_avx2, dot_avx2};
#endif
    return (half_kernels){half_tile_generic, dot_generic};
}

typedef struct half_ctx {
    const mm_problem *p;
    void (*tile_fn)(const half_tile *t, float *scratch);
    int64_t nc;               /* output tile width (a multiple of NR, <= NC) */
    int64_t tiles_m, tiles_n; /* output tiles per matrix */
    atomic_int failed;        /* scratch allocation failed */
} half_ctx;

static void half_range(void *vctx, int64_t begin, int64_t end) {
    half_ctx *ctx = vctx;
    const mm_problem *p = ctx->p;
    const int nb = p->nbatch_dims;
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
        half_tile tile = {
            .sa_row = p->a.strides[nb],
            .sa_col = p->a.strides[nb + 1],
            .sb_row = p->b.strides[nb],
            .sb_col = p->b.strides[nb + 1],
            .mc = p->m - i0 < MC ? p->m - i0 : MC,
            .nc = p->n - j0 < ctx->nc ? p->n - j0 : ctx->nc,
            .k = p->k,
            .ldc = ctx->nc,
            .out = (uint16_t *)p->out + (batch * p->m + i0) * p->n + j0,
            .ld_out = p->n,
            .bf16 = p->dtype == INGOT_BF16,
        };
        tile.a = (const uint16_t *)p->a.data + off_a + i0 * tile.sa_row;
        tile.b = (const uint16_t *)p->b.data + off_b + j0 * tile.sb_col;
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

/* The dot-product path for one matrix (see dot_job), any of the three
 * float dtypes. */
static ingot_status matmul_dot(const mm_problem *p, const half_kernels *kernels) {
    const int nb = p->nbatch_dims; /* all of size 1 */
    int64_t sa_row = p->a.strides[nb], sa_col = p->a.strides[nb + 1];
    size_t bytes = (size_t)(p->m * p->k) * sizeof(float);
    float *af = ingot__host_alloc(bytes); /* [m, k] */
    if (!af)
        return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "matmul: no memory for a %zu-byte copy",
                            bytes);
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t k = 0; k < p->k; k++)
            af[i * p->k + k] = weight_at(p->a.data, i * sa_row + k * sa_col, p->dtype);
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

static ingot_status matmul_half(const mm_problem *p) {
    if (p->dtype == INGOT_F16) pthread_once(&f16_table_once, f16_table_init);
    half_kernels kernels = pick_half_kernels();
    if (use_dot(p)) return matmul_dot(p, &kernels);
    half_ctx ctx = {.p = p, .tile_fn = kernels.tile, .nc = NC, .tiles_m = (p->m + MC - 1) / MC};
    /* narrower tiles until every thread has a few (the result does not
     * depend on the tiling) */
    int64_t want = 4 * (int64_t)ingot_get_num_threads();
    while (ctx.nc > NR && p->nbatch * ctx.tiles_m * ((p->n + ctx.nc - 1) / ctx.nc) < want)
        ctx.nc /= 2;
    ctx.tiles_n = (p->n + ctx.nc - 1) / ctx.nc;
    atomic_init(&ctx.failed, 0);
    ingot__parallel_for(p->nbatch * ctx.tiles_m * ctx.tiles_n, 1, half_range, &ctx);
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
    for (int d = 0; d < p.nbatch_dims; d++)
        p.nbatch *= out->shape[d];
    fold_batch(&p);
    if (p.dtype == INGOT_F32 && use_dot(&p)) {
        half_kernels kernels = pick_half_kernels();
        return matmul_dot(&p, &kernels);
    }
    switch (p.dtype) {
    case INGOT_F32: return matmul_f32(&p);
    case INGOT_F16:
    case INGOT_BF16: return matmul_half(&p);
    default:
        return ingot__error(INGOT_ERR_DTYPE, "matmul: unsupported dtype %s",
                            ingot_dtype_name(p.dtype));
    }
}
