/* Numbers read and written in the "C" locale whatever the host program's
 * LC_NUMERIC is: JSON, Jinja and Python all spell 3.5 with a point, while
 * strtod and printf follow the process (or thread) locale, which a host
 * program may have set to one with a decimal comma. A per-thread uselocale()
 * switch keeps other threads untouched. */
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/internal.h"

static locale_t c_numeric;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void make_c_numeric(void) { c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* The C numeric locale, or 0 when it could not be made (out of memory): the
 * callers then use the thread's own locale. */
static locale_t c_locale(void) {
    pthread_once(&c_numeric_once, make_c_numeric);
    return c_numeric;
}

double ingot__strtod_c(const char *s, char **end) {
    locale_t c = c_locale();
    return c ? strtod_l(s, end, c) : strtod(s, end);
}

int ingot__snprintf_c(char *buf, size_t n, const char *fmt, ...) {
    locale_t c = c_locale(), prev = c ? uselocale(c) : (locale_t)0;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (c) uselocale(prev);
    return r;
}
