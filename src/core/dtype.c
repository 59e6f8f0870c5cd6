/* Dtype properties, promotion and element conversion. */
#include <math.h>

#include "core/internal.h"

static const struct {
    const char *name;
    size_t size;
} dtype_info[INGOT_DTYPE_COUNT] = {
    [INGOT_BOOL] = {"bool", 1}, [INGOT_U8] = {"u8", 1},    [INGOT_I8] = {"i8", 1},
    [INGOT_I32] = {"i32", 4},   [INGOT_U32] = {"u32", 4},  [INGOT_I64] = {"i64", 8},
    [INGOT_F16] = {"f16", 2},   [INGOT_BF16] = {"bf16", 2}, [INGOT_F32] = {"f32", 4},
};

static bool dtype_valid(ingot_dtype d) { return (unsigned)d < INGOT_DTYPE_COUNT; }

size_t ingot_dtype_size(ingot_dtype dtype) {
    return dtype_valid(dtype) ? dtype_info[dtype].size : 0;
}

const char *ingot_dtype_name(ingot_dtype dtype) {
    return dtype_valid(dtype) ? dtype_info[dtype].name : "invalid";
}

bool ingot_dtype_is_float(ingot_dtype dtype) {
    return dtype == INGOT_F16 || dtype == INGOT_BF16 || dtype == INGOT_F32;
}

bool ingot_dtype_is_integer(ingot_dtype dtype) {
    return dtype == INGOT_U8 || dtype == INGOT_I8 || dtype == INGOT_I32 || dtype == INGOT_U32 ||
           dtype == INGOT_I64;
}

static bool is_unsigned(ingot_dtype d) { return d == INGOT_U8 || d == INGOT_U32; }

ingot_dtype ingot_promote_types(ingot_dtype a, ingot_dtype b) {
    if (a == b || b == INGOT_BOOL) return a;
    if (a == INGOT_BOOL) return b;
    bool fa = ingot_dtype_is_float(a), fb = ingot_dtype_is_float(b);
    if (fa && fb) return INGOT_F32; /* distinct floats: f16+bf16, or one is f32 */
    if (fa) return a;
    if (fb) return b;
    /* two distinct integers */
    if (is_unsigned(a) == is_unsigned(b)) return ingot_dtype_size(a) >= ingot_dtype_size(b) ? a : b;
    ingot_dtype u = is_unsigned(a) ? a : b, s = is_unsigned(a) ? b : a;
    if (ingot_dtype_size(s) > ingot_dtype_size(u)) return s;
    return u == INGOT_U8 ? INGOT_I32 : INGOT_I64;
}

/* ---- element load/store ---- */

double ingot__load_f64(const void *p, ingot_dtype dtype) {
    switch (dtype) {
    case INGOT_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    case INGOT_U8: return *(const uint8_t *)p;
    case INGOT_I8: return *(const int8_t *)p;
    case INGOT_I32: return *(const int32_t *)p;
    case INGOT_U32: return *(const uint32_t *)p;
    case INGOT_I64: return (double)*(const int64_t *)p;
    case INGOT_F16: return ingot__f16_to_f32(*(const uint16_t *)p);
    case INGOT_BF16: return ingot__bf16_to_f32(*(const uint16_t *)p);
    case INGOT_F32: return *(const float *)p;
    default: return 0.0;
    }
}

/* Truncates toward zero and saturates to [lo, hi]; NaN gives 0. */
static int64_t f64_to_int(double v, double lo, double hi) {
    if (isnan(v)) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return hi >= 0x1p63 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

void ingot__store_f64(void *p, ingot_dtype dtype, double v) {
    switch (dtype) {
    case INGOT_BOOL: *(uint8_t *)p = v != 0.0; break;
    case INGOT_U8: *(uint8_t *)p = (uint8_t)f64_to_int(v, 0, UINT8_MAX); break;
    case INGOT_I8: *(int8_t *)p = (int8_t)f64_to_int(v, INT8_MIN, INT8_MAX); break;
    case INGOT_I32: *(int32_t *)p = (int32_t)f64_to_int(v, INT32_MIN, INT32_MAX); break;
    case INGOT_U32: *(uint32_t *)p = (uint32_t)f64_to_int(v, 0, UINT32_MAX); break;
    case INGOT_I64: *(int64_t *)p = f64_to_int(v, -0x1p63, 0x1p63); break;
    case INGOT_F16: *(uint16_t *)p = ingot__f32_to_f16((float)v); break;
    case INGOT_BF16: *(uint16_t *)p = ingot__f32_to_bf16((float)v); break;
    case INGOT_F32: *(float *)p = (float)v; break;
    default: break;
    }
}

int64_t ingot__load_i64(const void *p, ingot_dtype dtype) {
    switch (dtype) {
    case INGOT_BOOL: return *(const uint8_t *)p != 0;
    case INGOT_U8: return *(const uint8_t *)p;
    case INGOT_I8: return *(const int8_t *)p;
    case INGOT_I32: return *(const int32_t *)p;
    case INGOT_U32: return *(const uint32_t *)p;
    case INGOT_I64: return *(const int64_t *)p;
    default: return f64_to_int(ingot__load_f64(p, dtype), -0x1p63, 0x1p63);
    }
}

void ingot__store_i64(void *p, ingot_dtype dtype, int64_t v) {
    switch (dtype) {
    case INGOT_BOOL: *(uint8_t *)p = v != 0; break;
    case INGOT_U8: *(uint8_t *)p = (uint8_t)v; break; /* integer conversion wraps */
    case INGOT_I8: *(int8_t *)p = (int8_t)(uint8_t)v; break;
    case INGOT_I32: *(int32_t *)p = (int32_t)(uint32_t)v; break;
    case INGOT_U32: *(uint32_t *)p = (uint32_t)v; break;
    case INGOT_I64: *(int64_t *)p = v; break;
    default: ingot__store_f64(p, dtype, (double)v); break;
    }
}
