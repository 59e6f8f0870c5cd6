/* Shared test helpers (cmocka). Every helper fails the running test through
 * cmocka on error, so test code can stay linear. Reference values in tests
 * are computed independently of ingot's kernels: with plain loops in double
 * precision over host copies (tu_values), never with the op under test. */
#ifndef INGOT_TESTUTIL_H
#define INGOT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdbool.h>

#include "ingot/ingot.h"

/* Fails the test with the status name and ingot_last_error() unless OK. */
#define TU_OK(expr) tu_check_ok((expr), #expr, __FILE__, __LINE__)
void tu_check_ok(ingot_status st, const char *expr, const char *file, int line);

/* Asserts `expr` returns `status` and that ingot_last_error() contains
 * `needle` (NULL: any message, but non-empty). */
#define TU_FAILS(expr, status, needle) \
    tu_check_fails((expr), (status), (needle), #expr, __FILE__, __LINE__)
void tu_check_fails(ingot_status st, ingot_status want, const char *needle, const char *expr,
                    const char *file, int line);

/* Arrays from host values (converted to dtype). */
ingot_array *tu_from_f64(const double *values, ingot_dtype dtype, const int64_t *shape, int ndim);
ingot_array *tu_from_f32(const float *values, const int64_t *shape, int ndim);

/* Deterministic pseudo-random values uniform in [lo, hi) (a private
 * generator, independent of ingot_random), rounded to dtype; integer dtypes
 * get integers in [lo, hi). */
ingot_array *tu_random(ingot_dtype dtype, const int64_t *shape, int ndim, uint64_t seed, double lo,
                       double hi);
/* The same values as tu_random as host doubles, n of them; caller frees. */
double *tu_random_values(int64_t n, uint64_t seed, double lo, double hi);

/* A non-contiguous array with the same values as a: a is copied into a
 * buffer with its last two axes swapped (or, for ndim < 2, with a stride of 2)
 * and a strided view of it is returned. */
ingot_array *tu_noncontiguous(const ingot_array *a);

/* tu_noncontiguous(a), and a freed: `a = tu_noncontiguous_take(a);`. */
ingot_array *tu_noncontiguous_take(ingot_array *a);

/* a's elements as row-major doubles (malloc'd; caller frees). */
double *tu_values(const ingot_array *a);

/* Asserts a has the given dtype and shape. */
void tu_assert_shape(const ingot_array *a, ingot_dtype dtype, const int64_t *shape, int ndim);

/* Asserts |actual - expected| <= atol + rtol * |expected| for each of the n
 * elements (NaN matches NaN, inf matches equal inf) and a's size is n; reports
 * the first mismatch with its index and `what`. */
void tu_assert_close(const ingot_array *actual, const double *expected, int64_t n, double rtol,
                     double atol, const char *what);

/* Checks the gradients of fn (one output) at the float arrays inputs[0..n-1]
 * against central finite differences: with a random cotangent u, the VJP from
 * ingot_vjp must match (L(x + eps e_j) - L(x - eps e_j)) / (2 eps) where
 * L = sum(u * fn(x)), computed in double, for every element j of every input
 * whose mask entry is true (mask NULL: all inputs), sampling at most 64
 * elements per input. Tolerance: |num - ana| <= atol + rtol * |num|.
 * Suggested for f32: eps 1e-3, rtol 1e-2, atol 1e-3 (see docs/testing.md). */
void tu_gradcheck(ingot_fn fn, void *user, ingot_array *const *inputs, size_t n, const bool *mask,
                  double eps, double rtol, double atol, const char *what);

/* Convenience for a one-input op: fn calls op(out, in[0]). */
typedef ingot_status (*tu_unary_op)(ingot_array **out, const ingot_array *a);
void tu_gradcheck_unary(tu_unary_op op, const ingot_array *x, double eps, double rtol, double atol,
                        const char *what);

/* Removes dir and everything below it (links are removed, not followed);
 * returns 0, or -1 when something could not be removed. */
int tu_remove_tree(const char *dir);

/* Copies the file src to a new file dst (an old dst is removed first, so
 * arrays mapping it keep their bytes). Model folders made by
 * tests copy their weights: a link leaving the folder is refused
 * (safetensors.h, "Links"). */
void tu_copy_file(const char *src, const char *dst);

/* Lays out one repo of a Hugging Face cache as huggingface_hub does:
 * cache/repo (e.g. "models--org--name", folders created as needed) with
 * blobs/<hex> copies of the n files of the folder src, snapshots/<commit>/
 * holding each file as a link to ../../blobs/<hex>, and refs/main holding
 * commit. */
void tu_make_hub_repo(const char *cache, const char *repo, const char *commit, const char *src,
                      const char *const *files, size_t n);

/* ---- text and fixture helpers (tokenizer and template tests) ---- */

/* The tokenizer folder $INGOT_ASSETS/tokenizer-NAME/models (malloc'd; caller
 * frees), or NULL when $INGOT_ASSETS is unset or the folder is absent. */
char *tu_asset_dir(const char *name);

/* The lines of the JSONL file at path, each parsed, as one JSON array (the
 * caller decrefs it), or NULL when the file cannot be opened. A line that is
 * not valid JSON fails the test with the path and line number. */
json_t *tu_read_jsonl(const char *path);

/* The integers of the JSON array arr as ids (malloc'd, never NULL; *n receives
 * the count). */
int32_t *tu_json_ids(const json_t *arr, size_t *n);

/* Whether ids[0..n-1] equal the integers of the JSON array want. */
bool tu_ids_equal(const int32_t *ids, size_t n, const json_t *want);

/* Prints `what "TEXT" (LEN bytes)` on one line through print_message: at most
 * max bytes of s[0..len-1], with a newline as \n and other control bytes, DEL
 * and backslash as \xNN; "..." marks a cut. */
void tu_print_text(const char *what, const char *s, size_t len, size_t max);

/* Prints `what [ID,ID,...] (N ids)` on one line through print_message, the
 * list cut (",...") after about 400 characters. */
void tu_print_ids(const char *what, const int32_t *ids, size_t n);

/* tu_print_ids for the integers of the JSON array arr. */
void tu_print_json_ids(const char *what, const json_t *arr);

/* Prints `got error STATUS: MESSAGE` (ingot_last_error()) on one line through
 * print_message, for a call that failed with st where a result was expected. */
void tu_print_got_error(ingot_status st);

/* Prints the expected ids (a JSON array) and what an encode gave instead: its
 * ids when st is INGOT_OK, else the error. */
void tu_print_ids_mismatch(const json_t *want, ingot_status st, const ingot_tokens *got);

/* The end of a GPU test program: every buffer on cuda:0 must have been freed
 * (active 0), and the allocator's cache goes back to the driver, so that
 * compute-sanitizer's leak check sees real leaks only. Prints and returns 1
 * when buffers are still live, else 0. */
int tu_cuda_release(void);

#endif
