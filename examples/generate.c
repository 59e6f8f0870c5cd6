/* generate: load a model and stream a greedy continuation of a prompt.
 *
 *   generate MODEL PROMPT [MAX_TOKENS]
 *
 * MODEL is a Hugging Face model folder (config.json, *.safetensors,
 * tokenizer.json) or the repo id of one in the local Hugging Face cache, such
 * as Qwen/Qwen3-0.6B (ingot_hub_resolve: nothing is downloaded). PROMPT is
 * encoded as plain text, as `ingot generate --raw` encodes it; a chat model
 * answers best through its chat template (ingot_session_chat, engine.h). The
 * continuation streams to standard output token by token, at most MAX_TOKENS
 * (default 32) of them; the generated ids and the speed go to standard error.
 * The model runs on the GPU when there is one (and the CUDA plugin), else on
 * the CPU.
 *
 * Build against an installed ingot (see README.md):
 *   cc generate.c -o generate $(pkg-config --cflags --libs ingot)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ingot/ingot.h>

/* Called with the text of each generated token as soon as it is known. */
static bool print_piece(void *user, int32_t id, const char *piece, size_t len) {
    (void)user;
    (void)id;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true; /* false would stop the generation here */
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: generate MODEL PROMPT [MAX_TOKENS]\n");
        return 2;
    }
    const char *prompt = argv[2];
    long max_tokens = argc == 4 ? strtol(argv[3], NULL, 10) : 32;

    char *dir = NULL; /* the folder MODEL names */
    ingot_model *model = NULL;
    ingot_tokenizer *tok = NULL;
    ingot_session *session = NULL;
    ingot_generation gen = {0};
    ingot_model_options mo = {.device = ingot_default_device()};
    /* Each step runs only when the ones before it succeeded. */
    ingot_status s = ingot_hub_resolve(&dir, argv[1], NULL);
    if (!s) s = ingot_model_load(&model, dir, &mo);
    if (!s) s = ingot_tokenizer_load(&tok, dir);
    if (!s) s = ingot_session_new(&session, model, tok, 0);
    if (!s) {
        /* special tokens added as Hugging Face adds them (a BOS, for some) */
        ingot_encode_options eo = {.add_special_tokens = true, .parse_special = true};
        /* zero sampling options: greedy; stops at the tokenizer's EOS ids */
        ingot_generate_options go = {
            .max_tokens = max_tokens, .skip_special = true, .callback = print_piece};
        s = ingot_session_generate_text(&gen, session, prompt, strlen(prompt), &eo, &go);
    }
    if (s) {
        fprintf(stderr, "generate: %s: %s\n", ingot_status_str(s), ingot_last_error());
    } else {
        putchar('\n');
        fprintf(stderr, "ids:");
        for (size_t i = 0; i < gen.n_ids; i++)
            fprintf(stderr, " %d", gen.ids[i]);
        fprintf(stderr, "\n%zu tokens, %.1f tokens/s\n", gen.n_ids,
                gen.metrics.decode_tokens_per_second);
    }
    ingot_generation_free(&gen);
    ingot_session_free(session);
    ingot_tokenizer_free(tok);
    ingot_model_free(model);
    free(dir);
    return s ? 1 : 0;
}
