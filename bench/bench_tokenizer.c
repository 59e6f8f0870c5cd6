/* Tokenizer benchmark (not a test): load times, single-thread encode MB/s on
 * a few MB of mixed text (English prose, C and Python code, German, Russian,
 * Chinese, Japanese, Arabic, Hindi, emoji, numbers), and the no-space scaling
 * (4 MB vs 8 MB without a space: Gemma 3 BPE-merges it as a single word).
 *
 * Built with the project (build/bench/bench_tokenizer).
 * Usage: bench_tokenizer [ASSETS_DIR] [--dump-text DIR]
 *   ASSETS_DIR defaults to $INGOT_ASSETS or .cache/assets and must hold
 *   tokenizer-{qwen3,llama3,gemma3}/models. --dump-text writes the texts
 *   (DIR/mixed.txt, DIR/nospace8.txt) so that Hugging Face tokenizers can be
 *   timed on the same bytes: bench/bench_tokenizer_hf.py, which also prints
 *   the same id checksums (FNV-1a over the ids as little-endian int32). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingot/ingot.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static const char *const SNIPPETS[] = {
    "The quick brown fox jumps over the lazy dog. ",
    "In 1969, Apollo 11 landed on the Moon; 600 million people watched it live.\n",
    "Tokenization splits text into pieces that a language model understands. ",
    "int main(void) {\n    for (int i = 0; i < 10; i++) printf(\"%d\\n\", i);\n    return 0;\n}\n",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n",
    "    if (x->next != NULL && x->len > 0x7fff) { free(x); }\n",
    "Die Würde des Menschen ist unantastbar. Sie zu achten und zu schützen ist Verpflichtung. ",
    "Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива по-своему. ",
    "天下大勢，分久必合，合久必分。周末七國分爭，并入於秦。",
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
    "مرحبا بالعالم، هذه جملة باللغة العربية للاختبار. ",
    "हिन्दी भारत की एक आधिकारिक भाषा है। ",
    "Emoji: 😀👍🏽👨‍👩‍👧‍👦🏳️‍🌈 and symbols ∑∫√≈≠ ",
    "Prices: $1,234.56, €99.99, 3.14159265358979, 2026-11-25T18:30:00Z\n",
    "URL https://huggingface.co/docs/tokenizers/index?query=bpe#merges\n",
    "  Indented   text\twith\ttabs   and    runs of spaces.  \n\n",
};

/* About `bytes` of mixed text from the snippets in a pseudo-random order. */
static char *mixed_text(size_t bytes, size_t *len) {
    size_t n = sizeof SNIPPETS / sizeof *SNIPPETS, cap = bytes + 1024, used = 0;
    char *t = malloc(cap);
    uint64_t s = 42;
    while (t && used < bytes) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const char *p = SNIPPETS[(s >> 33) % n];
        size_t k = strlen(p);
        if (used + k >= cap) break;
        memcpy(t + used, p, k);
        used += k;
        /* a varying number keeps the words from being all the same */
        used += (size_t)snprintf(t + used, cap - used, "%u ", (unsigned)(s >> 40) % 100000);
    }
    *len = used;
    return t;
}

/* Text without spaces: letters from a few scripts. */
static char *nospace_text(size_t bytes) {
    static const char *const parts[] = {"abc", "xyz", "Hello", "Welt", "中文", "ñ", "42", "._"};
    char *t = malloc(bytes + 16);
    size_t used = 0;
    uint64_t s = 7;
    while (t && used < bytes) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const char *p = parts[(s >> 33) % 8];
        size_t k = strlen(p);
        if (used + k > bytes) break;
        memcpy(t + used, p, k);
        used += k;
    }
    if (t) memset(t + used, 'a', bytes - used);
    return t;
}

static uint64_t fnv_ids(const ingot_tokens *t) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < t->count; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (uint8_t)((uint32_t)t->ids[i] >> (8 * b));
            h *= 0x100000001b3ull;
        }
    return h;
}

static bool write_text(const char *dir, const char *name, const char *text, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = false;
    if (!ok) fprintf(stderr, "cannot write %s\n", path);
    return ok;
}

static double encode_time(const ingot_tokenizer *tok, const char *text, size_t len, size_t *count,
                          uint64_t *sum) {
    ingot_tokens t = {0};
    ingot_encode_options o = {.add_special_tokens = true};
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double a = now_s();
        if (ingot_tokenizer_encode(&t, tok, text, len, &o)) {
            fprintf(stderr, "encode: %s\n", ingot_last_error());
            break;
        }
        double b = now_s() - a;
        if (b < best) best = b;
    }
    *count = t.count;
    *sum = fnv_ids(&t);
    ingot_tokens_free(&t);
    return best;
}

int main(int argc, char **argv) {
    const char *assets = getenv("INGOT_ASSETS"), *dump = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dump-text") && i + 1 < argc) {
            dump = argv[++i];
        } else {
            assets = argv[i];
        }
    }
    if (!assets) assets = ".cache/assets";
    size_t len;
    char *text = mixed_text((size_t)4 << 20, &len);
    char *ns8 = nospace_text((size_t)8 << 20);
    if (!text || !ns8) return 1;
    if (dump && (!write_text(dump, "mixed.txt", text, len) ||
                 !write_text(dump, "nospace8.txt", ns8, (size_t)8 << 20)))
        return 1;
    printf("mixed text: %.2f MB; single thread\n", (double)len / 1e6);
    printf("%-8s %9s %12s %10s %12s %12s %8s\n", "tokenizer", "load s", "encode MB/s", "tokens",
           "4MB nospace", "8MB nospace", "ratio");
    static const char *const names[] = {"qwen3", "llama3", "gemma3"};
    for (int k = 0; k < 3; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tokenizer-%s/models", assets, names[k]);
        ingot_tokenizer *tok = NULL;
        double a = now_s();
        if (ingot_tokenizer_load(&tok, dir)) {
            printf("%-8s load failed: %s\n", names[k], ingot_last_error());
            continue;
        }
        double load = now_s() - a;
        size_t count, c4, c8;
        uint64_t h, h4, h8;
        double t = encode_time(tok, text, len, &count, &h);
        size_t len4 = (size_t)4 << 20; /* 4 MB, at a character boundary */
        while (len4 && ((unsigned char)ns8[len4] & 0xC0) == 0x80)
            len4--;
        double t4 = encode_time(tok, ns8, len4, &c4, &h4);
        double t8 = encode_time(tok, ns8, (size_t)8 << 20, &c8, &h8);
        printf("%-8s %9.3f %12.2f %10zu %11.3fs %11.3fs %8.2f   ids %016llx %016llx %016llx\n",
               names[k], load, (double)len / 1e6 / t, count, t4, t8, t8 / t4, (unsigned long long)h,
               (unsigned long long)h4, (unsigned long long)h8);
        ingot_tokenizer_free(tok);
    }
    free(text);
    free(ns8);
    return 0;
}
