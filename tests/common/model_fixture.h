/* The Hugging Face model fixtures (tests/fixtures/models, described in
 * docs/model-fixtures.md): one folder per model and dtype with the weights,
 * expected.json (prompts, greedy continuations) and expected.safetensors
 * (ids_<i>, logits_<i>, batched cases). Shared by test_model (CPU) and
 * test_cuda_models (GPU). Helpers fail the running cmocka test on error. */
#ifndef INGOT_MODEL_FIXTURE_H
#define INGOT_MODEL_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ingot/ingot.h"

typedef struct tu_fixture {
    char dir[600];
    char name[128];
    bool bf16; /* weights_dtype bf16 (logits compared with the bf16 tolerance) */
    json_t *expected;
    ingot_safetensors *st; /* expected.safetensors */
    ingot_model *m;
} tu_fixture;

/* $INGOT_FIXTURES/models (tests/fixtures/models when unset) into buf. */
const char *tu_models_dir(char *buf, size_t cap);

/* The sorted names of the folders under models that hold expected.json:
 * returns their number (0 when models cannot be read) and *names, a malloc'd
 * array of malloc'd strings freed with tu_free_names. */
size_t tu_fixture_names(const char *models, char ***names);
void tu_free_names(char **names, size_t n);

/* Opens folder models/name: expected.json, expected.safetensors, and the
 * model loaded with opts (NULL: the CPU, stored dtype). */
void tu_fixture_open(tu_fixture *f, const char *models, const char *name,
                     const ingot_model_options *opts);
void tu_fixture_close(tu_fixture *f);

size_t tu_fixture_n_prompts(const tu_fixture *f);
json_t *tu_fixture_prompt(const tu_fixture *f, size_t i);

/* The tensor named fmt % i of expected.safetensors (a CPU array). */
ingot_array *tu_fixture_tensor(const tu_fixture *f, const char *fmt, size_t i);

/* An i64 [1, n + n_extra] CPU array of the JSON list of ints, then extra. */
ingot_array *tu_ids_array(const json_t *list, const int64_t *extra, int64_t n_extra);

/* max |a - e| / max |e| over all elements (any devices; equal sizes). */
double tu_rel_err(const ingot_array *a, const ingot_array *e);

/* The index of the largest of the last V = dim(-1) values (first on ties). */
int64_t tu_argmax_last(const ingot_array *logits);

/* ingot_model_forward with only last_only set. */
ingot_status tu_forward(ingot_array **out, const ingot_model *m, const ingot_array *ids,
                        ingot_kv_cache *c, bool last_only);

/* Greedy decoding of prompt i with a cache on f->m's device: the n tokens
 * into out and each step's logits [1, 1, V] into step_logits (caller frees).
 * For a longrope model (ingot_model_info.rope_long_after) it does what
 * transformers' generate does for Phi-3: when the sequence first grows past
 * the switch, the cache is dropped and the whole sequence computed again
 * (with the long factors). */
void tu_greedy(tu_fixture *f, size_t i, int64_t *out, ingot_array **step_logits, int64_t n);

/* The first of tu_greedy's n steps for prompt i whose logits one forward
 * over the whole sequence (the prompt and n - 1 tokens) reproduces: 0, except
 * for a longrope model whose sequence passes the switch, where the steps up
 * to it rotated with the short factors and the whole sequence with the long
 * ones. */
int64_t tu_greedy_recomputable_from(const tu_fixture *f, size_t i, int64_t n);

/* HF's bf16 greedy continuations may part from ours only where HF's own top
 * two logits are closer than this. */
#define TU_BF16_MARGIN 0.1

/* Fails unless got (n tokens of prompt i) is HF's continuation, except, for
 * bf16 models, from a step where HF's top two logits were within
 * TU_BF16_MARGIN. */
void tu_check_continuation(const tu_fixture *f, size_t i, const int64_t *got, int64_t n);

/* The peak_memory that a session's and a batch's metrics report is the
 * peak of that call on the model's device (f->m's): after a 64 MiB array on
 * that device is freed (so the device's peak holds it), a generation from
 * prompt 0 must report a peak above 0 and below 64 MiB. */
void tu_check_call_peak(const tu_fixture *f);

#endif
