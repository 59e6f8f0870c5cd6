// CUDA sorting: stable ascending sort along one axis (NaN last) and
// argpartition (mirrors cpu_sort.c).
//
// Every element gets an unsigned key whose order is the element order, as on
// the CPU (floats: IEEE bits with the sign folded, -0 taken as +0, every NaN
// the largest key; integers: the sign bit flipped), in 8, 32 or 64 bits by
// dtype, paired with its position in the row. The rows are laid out one
// after another in scratch and sorted by a stable CUB radix sort (one row) or
// segmented sort (several), which gives exactly the CPU's (key, position)
// order; the results are then written through the sorted positions.
//
// argpartition returns the stable argsort: the item at kth is the one the
// sort (and the CPU's quickselect) puts there, everything before it is not
// larger and everything after not smaller, so it is a valid partition. It
// equals the CPU's output at kth, but not the CPU's order elsewhere.
#include <cub/cub.cuh>

#include "backend/cuda/cuda_internal.h"

// Significant key bits for dt.
static int key_bits(ingot_dtype dt) {
    switch (dt) {
    case INGOT_BOOL:
    case INGOT_U8:
    case INGOT_I8: return 8;
    case INGOT_I64: return 64;
    default: return 32;
    }
}

// The order-preserving key of element i of p (dtype dt).
__device__ static uint64_t sort_key(const void *p, ingot_dtype dt, int64_t i) {
    switch (dt) {
    case INGOT_BOOL:
    case INGOT_U8: return ((const uint8_t *)p)[i];
    case INGOT_I8: return (uint8_t)((const int8_t *)p)[i] ^ 0x80u;
    case INGOT_I32: return (uint32_t)((const int32_t *)p)[i] ^ 0x80000000u;
    case INGOT_U32: return ((const uint32_t *)p)[i];
    case INGOT_I64: return (uint64_t)((const int64_t *)p)[i] ^ (UINT64_C(1) << 63);
    default: {
        float x = ingot__cu_load_f32(p, dt, i);
        if (isnan(x)) return 0xffffffffu;
        if (x == 0) x = 0; // -0 and +0 are equal: keep their order
        uint32_t b = __float_as_uint(x);
        return (b >> 31) ? ~b : b | 0x80000000u;
    }
    }
}

// Element i of the row-after-row layout: its row's offsets and its place j.
__device__ static inline int64_t row_of(const ingot__cu_rows &r, int64_t i, int64_t (&off)[2]) {
    int64_t row = i / r.n;
    ingot__cu_offsets(r.other, row, off);
    return i - row * r.n;
}

// One thread per element: keys[i] and pos[i] = its place in its row.
static __global__ void sort_keys(const void *a, ingot_dtype dt, ingot__cu_rows r, int64_t total,
                                 uint64_t *keys, int64_t *pos) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        int64_t j = row_of(r, i, off);
        keys[i] = sort_key(a, dt, off[0] + j * r.as);
        pos[i] = j;
    }
}

// One thread per row boundary: seg[k] = k * n for k <= rows.
static __global__ void sort_segments(int64_t *seg, int64_t rows, int64_t n) {
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k <= rows;
         k += (int64_t)gridDim.x * blockDim.x)
        seg[k] = k * n;
}

// One thread per sorted element: values (a's bits, or NULL) and indices (or
// NULL) at its place in the outputs.
static __global__ void sort_write(const void *a, size_t esize, ingot__cu_rows r, int64_t total,
                                  const int64_t *pos, void *values, int64_t *indices) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        int64_t j = row_of(r, i, off), p = pos[i], o = off[1] + j * r.os;
        if (values) ingot__cu_copy_elem(values, o, a, off[0] + p * r.as, esize);
        if (indices) indices[o] = p;
    }
}

// Sorts (key, position) pairs of `rows` rows of n in place of keys[0]/pos[0]
// into keys[1]/pos[1]; one CUB call to size the scratch and one to sort.
static ingot_status cub_sort(uint64_t *const keys[2], int64_t *const pos[2], const int64_t *seg,
                             int64_t rows, int64_t n, int bits, int index, cudaStream_t stream) {
    int64_t total = rows * n;
    auto run = [&](void *tmp, size_t &bytes) {
        if (rows == 1)
            return cub::DeviceRadixSort::SortPairs(tmp, bytes, keys[0], keys[1], pos[0], pos[1],
                                                   total, 0, bits, stream);
        return cub::DeviceSegmentedSort::StableSortPairs(tmp, bytes, keys[0], keys[1], pos[0],
                                                         pos[1], total, rows, seg, seg + 1, stream);
    };
    size_t bytes = 0;
    INGOT__CU_CHECK(run(nullptr, bytes), "sort");
    void *tmp;
    ingot_status st = ingot__cu_alloc(&tmp, bytes, index);
    if (st) return st;
    st = ingot__cu_check(run(tmp, bytes), "sort");
    ingot__cu_free(tmp, bytes, index);
    return st;
}

// Sorts every row of a along axis into values and/or indices (contiguous,
// a's shape; either NULL).
static ingot_status sort_along(ingot_array *values, ingot_array *indices, const ingot_array *a,
                               int axis) {
    if (a->size == 0) return INGOT_OK;
    ingot__cu_rows r = ingot__cu_rows_of(a, a, axis); // outputs of a's shape
    int64_t total = a->size, rows = total / r.n;
    int index = ingot__cu_index(a);
    cudaStream_t stream = ingot__cu_stream(index);

    // scratch: keys [2][total], positions [2][total], row boundaries [rows + 1]
    size_t nbytes = (size_t)total * 32 + (size_t)(rows + 1) * 8;
    void *scratch;
    ingot_status st = ingot__cu_alloc(&scratch, nbytes, index);
    if (st) return st;
    uint64_t *keys[2] = {(uint64_t *)scratch, (uint64_t *)scratch + total};
    int64_t *pos[2] = {(int64_t *)scratch + 2 * total, (int64_t *)scratch + 3 * total};
    int64_t *seg = (int64_t *)scratch + 4 * total;
    sort_keys<<<ingot__cu_blocks(total), 256, 0, stream>>>(ingot__data(a), a->dtype, r, total,
                                                           keys[0], pos[0]);
    st = ingot__cu_check(cudaGetLastError(), "sort");
    if (!st && rows > 1) {
        sort_segments<<<ingot__cu_blocks(rows + 1), 256, 0, stream>>>(seg, rows, r.n);
        st = ingot__cu_check(cudaGetLastError(), "sort");
    }
    if (!st) st = cub_sort(keys, pos, seg, rows, r.n, key_bits(a->dtype), index, stream);
    if (!st) {
        sort_write<<<ingot__cu_blocks(total), 256, 0, stream>>>(
            ingot__data(a), ingot_dtype_size(a->dtype), r, total, pos[1],
            values ? ingot__data(values) : nullptr,
            indices ? (int64_t *)ingot__data(indices) : nullptr);
        st = ingot__cu_check(cudaGetLastError(), "sort");
    }
    ingot__cu_free(scratch, nbytes, index);
    return st;
}

ingot_status ingot__cuda_sort(ingot_array *values, ingot_array *indices, const ingot_array *a,
                              int axis) {
    return sort_along(values, indices, a, axis);
}

ingot_status ingot__cuda_argpartition(ingot_array *indices, const ingot_array *a, int kth,
                                      int axis) {
    (void)kth; // the stable argsort is a partition around every kth
    return sort_along(nullptr, indices, a, axis);
}
