/* classify: how likely each of a few labels is to continue a prompt.
 *
 *   classify MODEL PROMPT LABEL...
 *
 * MODEL is a model folder or a repo id in the local Hugging Face cache, as
 * for generate.c. Every (prompt, label) pair is one row of a batched forward
 * pass (ingot_score_labels): a label's score is its log-probability as the
 * continuation of PROMPT, summed over its tokens. The scores' softmax gives
 * each label's probability among the labels. Prints one line per label,
 * LABEL <tab> LOG-PROBABILITY <tab> PROBABILITY, then the most likely label.
 * PROMPT is encoded with the tokenizer's special tokens and the labels
 * without, as `ingot classify --labels` encodes them; a label usually wants
 * the space that precedes it in text:
 *
 *   classify Qwen/Qwen3-0.6B "The sky is" " blue" " green"
 *
 * Build against an installed ingot (see README.md):
 *   cc classify.c -o classify $(pkg-config --cflags --libs ingot)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ingot/ingot.h>

/* The probabilities of n log-probabilities among themselves, into probs:
 * softmax over an array of the n values (computed in f32). */
static ingot_status probabilities(float *probs, const double *scores, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        probs[i] = (float)scores[i];
    ingot_array *a = NULL, *p = NULL;
    ingot_status s = ingot_array_from_data(&a, probs, INGOT_F32, &n, 1);
    if (!s) s = ingot_softmax(&p, a, 0);
    if (!s) s = ingot_array_to_host(probs, (size_t)n * sizeof *probs, INGOT_F32, p);
    ingot_array_free(a);
    ingot_array_free(p);
    return s;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: classify MODEL PROMPT LABEL...\n");
        return 2;
    }
    const char *prompt = argv[2];
    char **labels = argv + 3;
    size_t n = (size_t)argc - 3;

    char *dir = NULL;
    ingot_model *model = NULL;
    ingot_tokenizer *tok = NULL;
    ingot_tokens prompt_ids = {0};
    ingot_tokens *label_ids = calloc(n, sizeof *label_ids);
    ingot_token_seq *label_seqs = calloc(n, sizeof *label_seqs);
    double *scores = calloc(n, sizeof *scores);
    float *probs = calloc(n, sizeof *probs);
    ingot_model_options mo = {.device = ingot_default_device()};
    ingot_status s = !label_ids || !label_seqs || !scores || !probs
                         ? INGOT_ERR_OUT_OF_MEMORY
                         : ingot_hub_resolve(&dir, argv[1], NULL);
    if (!s) s = ingot_model_load(&model, dir, &mo);
    if (!s) s = ingot_tokenizer_load(&tok, dir);
    ingot_encode_options with_special = {.add_special_tokens = true};
    if (!s) s = ingot_tokenizer_encode(&prompt_ids, tok, prompt, strlen(prompt), &with_special);
    for (size_t i = 0; i < n && !s; i++) {
        s = ingot_tokenizer_encode(&label_ids[i], tok, labels[i], strlen(labels[i]), NULL);
        label_seqs[i] = (ingot_token_seq){label_ids[i].ids, label_ids[i].count};
    }
    ingot_token_seq prompt_seq = {prompt_ids.ids, prompt_ids.count};
    if (!s) s = ingot_score_labels(scores, model, &prompt_seq, 1, label_seqs, n, 0);
    if (!s) s = probabilities(probs, scores, (int64_t)n);
    if (s) {
        fprintf(stderr, "classify: %s: %s\n", ingot_status_str(s), ingot_last_error());
    } else {
        size_t best = 0;
        for (size_t i = 0; i < n; i++) {
            printf("%s\t%.9g\t%.6f\n", labels[i], scores[i], probs[i]);
            if (scores[i] > scores[best]) best = i;
        }
        printf("best: %s\n", labels[best]);
    }
    for (size_t i = 0; label_ids && i < n; i++)
        ingot_tokens_free(&label_ids[i]);
    ingot_tokens_free(&prompt_ids);
    ingot_tokenizer_free(tok);
    ingot_model_free(model);
    free(dir);
    free(label_ids);
    free(label_seqs);
    free(scores);
    free(probs);
    return s ? 1 : 0;
}
