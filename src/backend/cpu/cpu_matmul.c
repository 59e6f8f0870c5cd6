/* CPU matmul: f32 through OpenBLAS (one sgemm per batch matrix, or one for
 * the whole batch when b is shared and a's batch folds into its rows); f16
 * and bf16 through a blocked kernel that converts tiles to f32, accumulates
 * in f32 in k order and rounds once. Work is split over output tiles only, so
 * every element is summed in the same order for any thread count. */
#include <cblas.h>

#include "backend/cpu/cpu.h"

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

/* dst (row-major [rows, cols]) = the strided f32 matrix at src. */
static void copy_f32_matrix(float *dst, const float *src, int64_t s_row, int64_t s_col,
                            int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[i * cols + j] = src[i * s_row + j * s_col];
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

static ingot_status matmul_f32(const mm_problem *p) {
    const int nb = p->nbatch_dims;
    int64_t m = p->m, nbatch = p->nbatch;
    if (nbatch > 1 && batch_folds_into_rows(p)) {
        m *= nbatch;
        nbatch = 1;
    }
    int64_t sa_r = p->a.strides[nb], sa_c = p->a.strides[nb + 1];
    int64_t sb_r = p->b.strides[nb], sb_c = p->b.strides[nb + 1];
    if (m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
        return ingot__error(INGOT_ERR_LIMIT, "matmul: matrix dims (%lld,%lld,%lld) exceed BLAS's",
                            (long long)m, (long long)p->n, (long long)p->k);
    bool dummy_t;
    int64_t dummy_ld;
    size_t scratch_a = blas_layout(sa_r, sa_c, m, p->k, &dummy_t, &dummy_ld)
                           ? 0 : (size_t)(m * p->k) * sizeof(float);
    size_t scratch_b = blas_layout(sb_r, sb_c, p->k, p->n, &dummy_t, &dummy_ld)
                           ? 0 : (size_t)(p->k * p->n) * sizeof(float);
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
        blas_matrix a = blas_prepare((const float *)p->a.data + off_a, sa_r, sa_c, m, p->k,
                                     scratch);
        blas_matrix b = blas_prepare((const float *)p->b.data + off_b, sb_r, sb_c, p->k, p->n,
                                     scratch_b_ptr);
        float *c = (float *)p->out + batch * m * p->n;
        cblas_sgemm(CblasRowMajor, a.trans ? CblasTrans : CblasNoTrans,
                    b.trans ? CblasTrans : CblasNoTrans, (int)m, (int)p->n, (int)p->k, 1.0f, a.ptr,
                    (int)a.ld, b.ptr, (int)b.ld, 0.0f, c, (int)p->n);
    }
    ingot__host_free(scratch, scratch_a + scratch_b);
    return INGOT_OK;
}

/* ---- f16 / bf16: blocked kernel with f32 accumulation ---- */

enum {
    MR = 4,   /* micro-tile rows */
    NR = 16,  /* micro-tile columns */
    MC = 64,  /* rows of an output tile (multiple of MR) */
    NC = 256, /* columns of an output tile (multiple of NR) */
    KC = 256, /* depth of one packed block */
};

static inline float half_to_f32(uint16_t h, ingot_dtype dtype) {
    return dtype == INGOT_BF16 ? ingot__bf16_to_f32(h) : ingot__f16_to_f32(h);
}

/* Packs rows [i0, i0 + mc) x depth [k0, k0 + kc) of A into panels of MR rows:
 * dst[panel][k][r], rows past mc zero. */
static void pack_a(float *restrict dst, const uint16_t *a, int64_t s_row, int64_t s_col,
                   int64_t mc, int64_t kc, ingot_dtype dtype) {
    for (int64_t ip = 0; ip < mc; ip += MR) {
        int64_t rows = mc - ip < MR ? mc - ip : MR;
        for (int64_t k = 0; k < kc; k++) {
            for (int64_t r = 0; r < rows; r++)
                dst[k * MR + r] = half_to_f32(a[(ip + r) * s_row + k * s_col], dtype);
            for (int64_t r = rows; r < MR; r++) dst[k * MR + r] = 0.0f;
        }
        dst += kc * MR;
    }
}

/* Packs depth [k0, k0 + kc) x columns [j0, j0 + nc) of B into panels of NR
 * columns: dst[panel][k][c], columns past nc zero. */
static void pack_b(float *restrict dst, const uint16_t *b, int64_t s_row, int64_t s_col,
                   int64_t kc, int64_t nc, ingot_dtype dtype) {
    for (int64_t jp = 0; jp < nc; jp += NR) {
        int64_t cols = nc - jp < NR ? nc - jp : NR;
        for (int64_t k = 0; k < kc; k++) {
            const uint16_t *row = b + k * s_row + jp * s_col;
            for (int64_t c = 0; c < cols; c++) dst[k * NR + c] = half_to_f32(row[c * s_col], dtype);
            for (int64_t c = cols; c < NR; c++) dst[k * NR + c] = 0.0f;
        }
        dst += kc * NR;
    }
}

/* c[MR][ldc] += ap (kc x MR) * bp (kc x NR), summing in k order. */
static void micro_kernel(int64_t kc, const float *restrict ap, const float *restrict bp,
                         float *restrict c, int64_t ldc) {
    float acc[MR][NR];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) acc[r][j] = c[r * ldc + j];
    for (int64_t k = 0; k < kc; k++) {
        const float *brow = bp + k * NR;
        for (int r = 0; r < MR; r++) {
            float av = ap[k * MR + r];
            for (int j = 0; j < NR; j++) acc[r][j] += av * brow[j];
        }
    }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) c[r * ldc + j] = acc[r][j];
}

typedef struct half_ctx {
    const mm_problem *p;
    int64_t tiles_m, tiles_n; /* output tiles per matrix */
    atomic_int failed;        /* scratch allocation failed */
} half_ctx;

enum {
    C_TILE_FLOATS = MC * NC,
    A_PACK_FLOATS = MC * KC,
    B_PACK_FLOATS = KC * NC,
    SCRATCH_FLOATS = C_TILE_FLOATS + A_PACK_FLOATS + B_PACK_FLOATS,
};

/* Computes one MC x NC output tile of one batch matrix. */
static void half_tile(const mm_problem *p, int64_t batch, int64_t i0, int64_t j0, float *scratch) {
    float *ctile = scratch;                       /* [MC, NC] */
    float *apack = scratch + C_TILE_FLOATS;       /* [MC / MR][KC][MR] */
    float *bpack = apack + A_PACK_FLOATS;         /* [NC / NR][KC][NR] */
    const int nb = p->nbatch_dims;
    int64_t mc = p->m - i0 < MC ? p->m - i0 : MC;
    int64_t nc = p->n - j0 < NC ? p->n - j0 : NC;
    int64_t mc_pad = (mc + MR - 1) / MR * MR, nc_pad = (nc + NR - 1) / NR * NR;
    int64_t off_a, off_b;
    mm_batch_offsets(p, batch, &off_a, &off_b);
    int64_t sa_r = p->a.strides[nb], sa_c = p->a.strides[nb + 1];
    int64_t sb_r = p->b.strides[nb], sb_c = p->b.strides[nb + 1];
    const uint16_t *a = (const uint16_t *)p->a.data + off_a + i0 * sa_r;
    const uint16_t *b = (const uint16_t *)p->b.data + off_b + j0 * sb_c;
    for (int64_t i = 0; i < mc_pad; i++)
        for (int64_t j = 0; j < nc_pad; j++) ctile[i * NC + j] = 0.0f;
    for (int64_t k0 = 0; k0 < p->k; k0 += KC) {
        int64_t kc = p->k - k0 < KC ? p->k - k0 : KC;
        pack_a(apack, a + k0 * sa_c, sa_r, sa_c, mc, kc, p->dtype);
        pack_b(bpack, b + k0 * sb_r, sb_r, sb_c, kc, nc, p->dtype);
        for (int64_t jp = 0; jp < nc_pad; jp += NR)
            for (int64_t ip = 0; ip < mc_pad; ip += MR)
                micro_kernel(kc, apack + ip * kc, bpack + jp * kc, ctile + ip * NC + jp, NC);
    }
    uint16_t *out = (uint16_t *)p->out + batch * p->m * p->n;
    for (int64_t i = 0; i < mc; i++) {
        uint16_t *orow = out + (i0 + i) * p->n + j0;
        const float *crow = ctile + i * NC;
        if (p->dtype == INGOT_BF16)
            for (int64_t j = 0; j < nc; j++) orow[j] = ingot__f32_to_bf16(crow[j]);
        else
            for (int64_t j = 0; j < nc; j++) orow[j] = ingot__f32_to_f16(crow[j]);
    }
}

static void half_range(void *vctx, int64_t begin, int64_t end) {
    half_ctx *ctx = vctx;
    size_t bytes = SCRATCH_FLOATS * sizeof(float);
    float *scratch = ingot__host_alloc(bytes);
    if (!scratch) {
        atomic_store(&ctx->failed, 1);
        return;
    }
    int64_t per_matrix = ctx->tiles_m * ctx->tiles_n;
    for (int64_t t = begin; t < end; t++) {
        int64_t batch = t / per_matrix, rest = t % per_matrix;
        half_tile(ctx->p, batch, rest / ctx->tiles_n * MC, rest % ctx->tiles_n * NC, scratch);
    }
    ingot__host_free(scratch, bytes);
}

static ingot_status matmul_half(const mm_problem *p) {
    half_ctx ctx = {.p = p, .tiles_m = (p->m + MC - 1) / MC, .tiles_n = (p->n + NC - 1) / NC};
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
    for (int d = 0; d < p.nbatch_dims; d++) p.nbatch *= out->shape[d];
    switch (p.dtype) {
    case INGOT_F32: return matmul_f32(&p);
    case INGOT_F16:
    case INGOT_BF16: return matmul_half(&p);
    default:
        return ingot__error(INGOT_ERR_DTYPE, "matmul: unsupported dtype %s",
                            ingot_dtype_name(p.dtype));
    }
}
