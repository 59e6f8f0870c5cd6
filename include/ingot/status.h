/* ingot/status.h - status codes and thread-local error messages.
 *
 * Every fallible function in ingot returns an ingot_status. INGOT_OK (0) means
 * success; any other value is an error, and the calling thread's error message
 * (ingot_last_error) then says what went wrong and where, for example
 * "matmul: shapes (4,8) x (7,2) do not align". The library never exits or
 * aborts on bad input.
 *
 * The enum is append-only: values never change meaning between releases. */
#ifndef INGOT_STATUS_H
#define INGOT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ingot_status {
    INGOT_OK = 0,
    INGOT_ERR_INVALID_ARGUMENT = 1, /* an argument is NULL, out of range or inconsistent */
    INGOT_ERR_SHAPE = 2,            /* shapes do not fit the operation */
    INGOT_ERR_DTYPE = 3,            /* a dtype the operation does not accept */
    INGOT_ERR_OUT_OF_MEMORY = 4,    /* an allocation failed or a memory limit was hit */
    INGOT_ERR_IO = 5,               /* the operating system refused a file operation */
    INGOT_ERR_FORMAT = 6,           /* a file or document is malformed */
    INGOT_ERR_NOT_FOUND = 7,        /* a named item (tensor, key, file) does not exist */
    INGOT_ERR_UNSUPPORTED = 8,      /* valid input that this build cannot handle */
    INGOT_ERR_INDEX = 9,            /* an index is out of range */
    INGOT_ERR_DEVICE = 10,          /* a device is absent or failed */
    INGOT_ERR_AUTOGRAD = 11,        /* misuse of the gradient tape */
    INGOT_ERR_LIMIT = 12,           /* a size or count limit was exceeded */
    INGOT_ERR_INTERNAL = 13,        /* a bug in ingot: please report it */
} ingot_status;

/* The name of a status code, e.g. "INGOT_ERR_SHAPE"; "INGOT_ERR_UNKNOWN" for
 * values outside the enum. The string is static; never NULL. */
const char *ingot_status_str(ingot_status status);

/* The calling thread's message for the most recent error (at most 1023 bytes,
 * NUL-terminated; truncated beyond): "" when there has been none since the
 * last ingot_clear_error. Read it right after a call returned non-OK: the
 * next ingot call on this thread may replace or clear it, and a call that
 * succeeds may also change it (internal failures it recovers from set it;
 * some such calls clear it), so the message means nothing after success. The
 * pointer is a per-thread buffer, valid for the thread's lifetime, whose
 * contents change. Never NULL. */
const char *ingot_last_error(void);

/* Forgets the calling thread's error message (ingot_last_error gives ""). */
void ingot_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
