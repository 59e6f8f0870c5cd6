/* Status names and the thread-local error message. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/internal.h"

#define INGOT__ERROR_MAX 1024

static _Thread_local char error_message[INGOT__ERROR_MAX];

const char *ingot_status_str(ingot_status status) {
    switch (status) {
    case INGOT_OK: return "INGOT_OK";
    case INGOT_ERR_INVALID_ARGUMENT: return "INGOT_ERR_INVALID_ARGUMENT";
    case INGOT_ERR_SHAPE: return "INGOT_ERR_SHAPE";
    case INGOT_ERR_DTYPE: return "INGOT_ERR_DTYPE";
    case INGOT_ERR_OUT_OF_MEMORY: return "INGOT_ERR_OUT_OF_MEMORY";
    case INGOT_ERR_IO: return "INGOT_ERR_IO";
    case INGOT_ERR_FORMAT: return "INGOT_ERR_FORMAT";
    case INGOT_ERR_NOT_FOUND: return "INGOT_ERR_NOT_FOUND";
    case INGOT_ERR_UNSUPPORTED: return "INGOT_ERR_UNSUPPORTED";
    case INGOT_ERR_INDEX: return "INGOT_ERR_INDEX";
    case INGOT_ERR_DEVICE: return "INGOT_ERR_DEVICE";
    case INGOT_ERR_AUTOGRAD: return "INGOT_ERR_AUTOGRAD";
    case INGOT_ERR_LIMIT: return "INGOT_ERR_LIMIT";
    case INGOT_ERR_INTERNAL: return "INGOT_ERR_INTERNAL";
    }
    return "INGOT_ERR_UNKNOWN";
}

const char *ingot_last_error(void) { return error_message; }

void ingot_clear_error(void) { error_message[0] = '\0'; }

ingot_status ingot__error(ingot_status status, const char *fmt, ...) {
    /* Format into a scratch buffer first: fmt's arguments may point into
     * error_message itself (a caller adding context to an earlier error). */
    char scratch[INGOT__ERROR_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(scratch, sizeof scratch, fmt, args);
    va_end(args);
    memcpy(error_message, scratch, sizeof scratch);
    return status;
}

const char *ingot__shape_str(char *buf, const int64_t *shape, int ndim) {
    size_t n = 0;
    buf[n++] = '(';
    for (int i = 0; i < ndim; i++)
        n += (size_t)sprintf(buf + n, i ? ",%" PRId64 : "%" PRId64, shape[i]);
    buf[n++] = ')';
    buf[n] = '\0';
    return buf;
}
