// CUDA matmul through cuBLASLt: out[..., M, N] = a[..., M, K] @ b[..., K, N]
// for f32, f16 and bf16, computed in f32 (CUBLAS_COMPUTE_32F, never TF32)
// and rounded once to the output dtype, as the CPU kernel (cpu_matmul.c).
//
// cuBLASLt is column-major; the row-major product is computed as its
// transpose, out^T [N, M] = b^T [N, K] @ a^T [K, M], so the contiguous
// row-major out is a column-major [N, M] matrix with ld N, and each operand
// is handed over as it lies in memory (op N for row-major, op T for a
// transposed view). The batch is folded into M when b is shared over it (as
// the CPU does), otherwise run as one strided-batched GEMM; an operand whose
// matrix layout or batch strides cuBLASLt cannot take is first packed into
// contiguous scratch by a small copy kernel.
//
// Per device: one cuBLASLt handle, created on first
// use, and a cache of plans (descriptors + the heuristic's algorithm) keyed
// by everything that shapes them, so repeated shapes (decode steps) skip
// the heuristic. The device's lock is held while a matmul is enqueued.
#include <cublasLt.h>

#include <array>
#include <map>
#include <mutex>

#include "backend/cuda/cuda_internal.h"

#define MAX_DEVICES 16

enum : size_t { WORKSPACE_BYTES = 32u << 20 };
enum { MAX_PLANS = 512 };

// ---- packing copies ----

// Thread i (grid-stride) copies element i, in row-major order of the
// iterator's shape, from its strided place in src to dst[i]. E is the
// element's storage type (the bytes are moved, not converted).
template <typename E>
__global__ void pack_kernel(E *dst, const E *src, ingot__cu_iter it) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.size;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[1];
        ingot__cu_offsets(it, i, off);
        dst[i] = src[off[0]];
    }
}

// ---- problem description ----

// One operand of the batch: [batch..., rows, cols] with element strides.
struct operand {
    const char *data; // element 0
    int nb;           // batch dims
    const int64_t *batch_shape;
    const int64_t *strides; // [batch..., rows, cols]
    int64_t rows, cols;
};

// How cuBLASLt reads one operand (row-major [rows, cols] per batch matrix).
struct lt_matrix {
    const void *ptr;
    bool trans;      // stored as the column-major [rows, cols] (a transposed view)
    int64_t ld;      // leading dimension, elements
    int64_t bstride; // batch stride, elements (>= 0)
};

// How a strided [rows, cols] matrix can be given as is: row-major with
// leading dim *ld (trans false) or column-major, i.e. a transposed view
// (trans true). False when it needs a copy. Mirrors the CPU's blas_layout.
static bool matrix_layout(int64_t s_row, int64_t s_col, int64_t rows, int64_t cols, bool *trans,
                          int64_t *ld) {
    int64_t min_ld_plain = cols > 1 ? cols : 1;
    int64_t min_ld_trans = rows > 1 ? rows : 1;
    if (cols == 1 || s_col == 1) {
        if (rows == 1 || s_row >= min_ld_plain) {
            *trans = false;
            *ld = rows == 1 ? min_ld_plain : s_row;
            return true;
        }
    }
    if (rows == 1 || s_row == 1) {
        if (cols == 1 || s_col >= min_ld_trans) {
            *trans = true;
            *ld = cols == 1 ? min_ld_trans : s_col;
            return true;
        }
    }
    return false;
}

// *stride = the one element stride that steps through the flattened batch
// of op (0 when it is broadcast or there is one matrix); false when its
// batch dims do not collapse to one stride.
static bool uniform_batch_stride(const operand &op, int64_t *stride) {
    int64_t s = 0, inner = 1;
    bool set = false;
    for (int d = op.nb - 1; d >= 0; d--) {
        if (op.batch_shape[d] == 1) continue;
        if (!set) {
            s = op.strides[d];
            set = true;
        } else if (op.strides[d] != s * inner) {
            return false;
        }
        inner *= op.batch_shape[d];
    }
    *stride = s;
    return true;
}

// True when every batch dim of b is broadcast and a's batch dims continue
// its row stride, so the batch folds into the rows of a (the CPU's
// batch_folds_into_rows).
static bool batch_folds_into_rows(const operand &a, const operand &b) {
    int64_t expect = a.strides[a.nb] * a.rows;
    for (int d = a.nb - 1; d >= 0; d--) {
        if (b.strides[d] != 0) return false;
        if (a.batch_shape[d] != 1 && a.strides[d] != expect) return false;
        expect *= a.batch_shape[d];
    }
    return true;
}

// Packs op (all its batch matrices) row-major into scratch `dst` (nbatch *
// rows * cols elements of esize bytes) on stream s.
static ingot_status pack(void *dst, const operand &op, size_t esize, cudaStream_t s) {
    int64_t shape[INGOT_MAX_DIMS];
    for (int d = 0; d < op.nb; d++) shape[d] = op.batch_shape[d];
    shape[op.nb] = op.rows;
    shape[op.nb + 1] = op.cols;
    ingot__cu_iter it;
    const int64_t *strides[1] = {op.strides};
    ingot__cu_iter_init(&it, shape, op.nb + 2, 1, strides);
    unsigned blocks = ingot__cu_blocks(it.size);
    if (esize == 4)
        pack_kernel<uint32_t><<<blocks, 256, 0, s>>>((uint32_t *)dst, (const uint32_t *)op.data,
                                                     it);
    else
        pack_kernel<uint16_t><<<blocks, 256, 0, s>>>((uint16_t *)dst, (const uint16_t *)op.data,
                                                     it);
    INGOT__CU_CHECK(cudaGetLastError(), "matmul: pack");
    return INGOT_OK;
}

// Scratch holding packed copies of operands; freed on scope exit (stream
// order makes that safe once the matmul is queued).
struct scratch_block {
    void *ptr = nullptr;
    size_t nbytes = 0;
    int index = 0;
    ~scratch_block() {
        if (ptr) ingot__cu_free(ptr, nbytes, index);
    }
};

// Prepares how cuBLASLt reads op: as it lies when its matrices have a
// usable layout and its batch one stride, otherwise packed into `scratch`.
static ingot_status prepare(lt_matrix *m, const operand &op, int64_t nbatch, size_t esize,
                            scratch_block *scratch, int index, cudaStream_t s) {
    m->ptr = op.data;
    if (matrix_layout(op.strides[op.nb], op.strides[op.nb + 1], op.rows, op.cols, &m->trans,
                      &m->ld) &&
        uniform_batch_stride(op, &m->bstride) && m->bstride >= 0)
        return INGOT_OK;
    scratch->nbytes = (size_t)(nbatch * op.rows * op.cols) * esize;
    scratch->index = index;
    ingot_status st = ingot__cu_alloc(&scratch->ptr, scratch->nbytes, index);
    if (st) return st;
    st = pack(scratch->ptr, op, esize, s);
    if (st) return st;
    m->ptr = scratch->ptr;
    m->trans = false;
    m->ld = op.cols > 1 ? op.cols : 1;
    m->bstride = op.rows * op.cols;
    return INGOT_OK;
}

// ---- cuBLASLt state and plans ----

static ingot_status lt_check(cublasStatus_t st, const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return INGOT_OK;
    return ingot__error(INGOT_ERR_DEVICE, "matmul: %s: %s", what, cublasLtGetStatusString(st));
}

#define LT_CHECK(expr, what)                                                                     \
    do {                                                                                         \
        ingot_status lt_st_ = lt_check((expr), (what));                                          \
        if (lt_st_) return lt_st_;                                                               \
    } while (0)

// Everything that shapes a plan: dtype, m, n, k (cuBLASLt's), the two
// transposes, the leading dims, batch count and strides, and the
// alignments (bytes) of A, B and C.
typedef std::array<int64_t, 16> plan_key;

// The descriptors of one cuBLASLt call and the algorithm the heuristic chose.
struct plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo;
    size_t workspace = 0;
    void destroy() {
        if (c) cublasLtMatrixLayoutDestroy(c);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (op) cublasLtMatmulDescDestroy(op);
        *this = plan();
    }
};

struct lt_device {
    std::mutex mu;
    cublasLtHandle_t handle = nullptr;
    std::map<plan_key, plan> plans;
};

static lt_device lt_devices[MAX_DEVICES];

// Creates the handle of device `index` on first use (lock held).
static ingot_status lt_init(lt_device &dev) {
    if (dev.handle) return INGOT_OK;
    cublasStatus_t cs = cublasLtCreate(&dev.handle);
    if (cs != CUBLAS_STATUS_SUCCESS) {
        dev.handle = nullptr;
        return lt_check(cs, "cublasLtCreate");
    }
    return INGOT_OK;
}

static ingot_status set_layout(cublasLtMatrixLayout_t *l, cudaDataType_t type, int64_t rows,
                               int64_t cols, int64_t ld, int32_t batch, int64_t bstride) {
    LT_CHECK(cublasLtMatrixLayoutCreate(l, type, (uint64_t)rows, (uint64_t)cols, ld),
             "layout create");
    if (batch > 1) {
        LT_CHECK(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                                  sizeof batch),
                 "layout batch");
        LT_CHECK(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                  &bstride, sizeof bstride),
                 "layout batch stride");
    }
    return INGOT_OK;
}

// Builds the descriptors for key k and runs the heuristic (p is destroyed
// by the caller on failure too).
static ingot_status plan_build(plan *p, const plan_key &k, cublasLtHandle_t handle) {
    cudaDataType_t type = k[0] == INGOT_F32 ? CUDA_R_32F
                          : k[0] == INGOT_F16 ? CUDA_R_16F
                                              : CUDA_R_16BF;
    int64_t m = k[1], n = k[2], kk = k[3];
    bool ta = k[4], tb = k[5];
    int32_t batch = (int32_t)k[9];
    LT_CHECK(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc create");
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    LT_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa),
             "transa");
    LT_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb),
             "transb");
    ingot_status st;
    // A is [m, k] after op, B [k, n], C [m, n]; all column-major.
    if ((st = set_layout(&p->a, type, ta ? kk : m, ta ? m : kk, k[6], batch, k[10]))) return st;
    if ((st = set_layout(&p->b, type, tb ? n : kk, tb ? kk : n, k[7], batch, k[11]))) return st;
    if ((st = set_layout(&p->c, type, m, n, k[8], batch, k[12]))) return st;

    cublasLtMatmulPreference_t pref;
    LT_CHECK(cublasLtMatmulPreferenceCreate(&pref), "preference create");
    uint64_t ws = WORKSPACE_BYTES;
    uint32_t align_a = (uint32_t)k[13], align_b = (uint32_t)k[14], align_c = (uint32_t)k[15];
    cublasLtMatmulHeuristicResult_t result = {};
    int found = 0;
    const struct {
        cublasLtMatmulPreferenceAttributes_t attr;
        const void *value;
        size_t size;
    } prefs[] = {
        {CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof align_a},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof align_b},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof align_c},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, sizeof align_c},
    };
    cublasStatus_t cs = CUBLAS_STATUS_SUCCESS;
    for (size_t i = 0; i < sizeof prefs / sizeof *prefs && cs == CUBLAS_STATUS_SUCCESS; i++)
        cs = cublasLtMatmulPreferenceSetAttribute(pref, prefs[i].attr, prefs[i].value,
                                                  prefs[i].size);
    if (cs == CUBLAS_STATUS_SUCCESS)
        cs = cublasLtMatmulAlgoGetHeuristic(handle, p->op, p->a, p->b, p->c, p->c, pref, 1, &result,
                                            &found);
    cublasLtMatmulPreferenceDestroy(pref);
    LT_CHECK(cs, "heuristic");
    if (found < 1)
        return ingot__error(INGOT_ERR_UNSUPPORTED,
                            "matmul: cuBLASLt has no algorithm for m=%lld n=%lld k=%lld batch=%d",
                            (long long)m, (long long)n, (long long)kk, (int)batch);
    p->algo = result.algo;
    p->workspace = result.workspaceSize;
    return INGOT_OK;
}

// The cached plan for key k, built on a miss (lock held). When the cache is
// full it is emptied first: plans are only used under the lock, and
// cuBLASLt reads descriptors when a call is queued, not when it runs.
static ingot_status plan_get(const plan **out, lt_device &dev, const plan_key &k) {
    auto it = dev.plans.find(k);
    if (it != dev.plans.end()) {
        *out = &it->second;
        return INGOT_OK;
    }
    if (dev.plans.size() >= MAX_PLANS) {
        for (auto &kv : dev.plans) kv.second.destroy();
        dev.plans.clear();
    }
    plan p;
    ingot_status st = plan_build(&p, k, dev.handle);
    if (st) {
        p.destroy();
        return st;
    }
    *out = &(dev.plans[k] = p);
    return INGOT_OK;
}

// The largest power of two (at most 256) dividing the byte address of m's
// data and its leading-dim and batch steps: the alignment cuBLASLt may
// assume for it.
static int64_t alignment(const lt_matrix &m, size_t esize) {
    uint64_t bits = (uint64_t)(uintptr_t)m.ptr | (uint64_t)m.ld * esize |
                    (uint64_t)m.bstride * esize | 256;
    return (int64_t)(bits & (~bits + 1));
}

// ---- the entry ----

ingot_status ingot__cuda_matmul(ingot_array *out, const ingot_array *a, const ingot_array *b) {
    const int nd = out->ndim;
    if (out->size == 0) return INGOT_OK;
    ingot_dtype dt = out->dtype;
    if (dt != INGOT_F32 && dt != INGOT_F16 && dt != INGOT_BF16)
        return ingot__error(INGOT_ERR_DTYPE, "matmul: unsupported dtype %s", ingot_dtype_name(dt));
    int index = ingot__cu_index(out);
    cudaStream_t s = ingot__cu_stream(index);
    size_t esize = ingot_dtype_size(dt);
    int64_t K = a->shape[nd - 1];
    if (K == 0) { // a sum of nothing
        INGOT__CU_CHECK(cudaMemsetAsync(ingot__data(out), 0, (size_t)out->size * esize, s),
                        "matmul");
        return INGOT_OK;
    }
    int nb = nd - 2;
    int64_t M = out->shape[nd - 2], N = out->shape[nd - 1], nbatch = 1;
    for (int d = 0; d < nb; d++) nbatch *= out->shape[d];
    operand oa = {(const char *)ingot__data(a), nb, out->shape, a->strides, M, K};
    operand ob = {(const char *)ingot__data(b), nb, out->shape, b->strides, K, N};
    if (nb > 0 && batch_folds_into_rows(oa, ob)) {
        // x [B, T, D] @ W [D, N] is one [B*T, D] @ [D, N]
        oa.rows *= nbatch;
        oa.strides += nb;
        ob.strides += nb;
        oa.nb = ob.nb = 0;
        M *= nbatch;
        nbatch = 1;
    }
    if (nbatch > INT32_MAX)
        return ingot__error(INGOT_ERR_LIMIT, "matmul: %lld batch matrices exceed cuBLASLt's",
                            (long long)nbatch);

    scratch_block scratch_a, scratch_b;
    lt_matrix ma, mb;
    ingot_status st = prepare(&ma, oa, nbatch, esize, &scratch_a, index, s);
    if (st) return st;
    if ((st = prepare(&mb, ob, nbatch, esize, &scratch_b, index, s))) return st;
    lt_matrix mc = {ingot__data(out), false, N, M * N};

    // out^T [N, M] = b^T [N, K] @ a^T [K, M]: cuBLASLt's A is b, its B is a;
    // a row-major operand is its column-major transpose (op N), a
    // transposed view is column-major as it is (op T).
    plan_key key = {dt,         N,          M,          K,         mb.trans,
                    ma.trans,   mb.ld,      ma.ld,      mc.ld,     nbatch,
                    mb.bstride, ma.bstride, mc.bstride, alignment(mb, esize),
                    alignment(ma, esize),   alignment(mc, esize)};
    lt_device &dev = lt_devices[index];
    std::lock_guard<std::mutex> lock(dev.mu);
    if ((st = lt_init(dev))) return st;
    const plan *p;
    if ((st = plan_get(&p, dev, key))) return st;
    // The workspace is scratch like any other: a cached block after the
    // first call, given back in stream order.
    void *workspace = nullptr;
    if (p->workspace && (st = ingot__cu_alloc(&workspace, p->workspace, index))) return st;
    const float one = 1.0f, zero = 0.0f;
    st = lt_check(cublasLtMatmul(dev.handle, p->op, &one, mb.ptr, p->a, ma.ptr, p->b, &zero,
                                 mc.ptr, p->c, (void *)mc.ptr, p->c, &p->algo, workspace,
                                 p->workspace, s),
                  "cublasLtMatmul");
    ingot__cu_free(workspace, p->workspace, index);
    return st;
}
