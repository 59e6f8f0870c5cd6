/* Added tokens: a byte trie over their contents matched leftmost-longest (as
 * the aho-corasick automaton of tokenizers' AddedVocabulary), and the
 * split_with_indices / find_matches logic with lstrip, rstrip, single_word
 * and encode_special_tokens. */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/internal.h"
#include "text/tok_internal.h"

typedef struct {
    int32_t child, sibling, pattern;
    unsigned char byte;
} trie_node;

struct tok_trie {
    trie_node *nodes;
    size_t n, cap;
    int32_t root[256]; /* first-level nodes */
};

void ingot__trie_free(tok_trie *t) {
    if (!t) return;
    free(t->nodes);
    free(t);
}

static int32_t trie_new_node(tok_trie *t, unsigned char byte) {
    trie_node *nn = ingot__grow(t->nodes, &t->cap, t->n + 1, sizeof *nn, 256);
    if (!nn) return -1;
    t->nodes = nn;
    t->nodes[t->n] = (trie_node){-1, -1, -1, byte};
    return (int32_t)t->n++;
}

ingot_status ingot__trie_build(tok_trie **out, const char *const *patterns, const uint32_t *lens,
                               size_t n) {
    tok_trie *t = calloc(1, sizeof *t);
    if (!t) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (int i = 0; i < 256; i++)
        t->root[i] = -1;
    for (size_t p = 0; p < n; p++) {
        const unsigned char *s = (const unsigned char *)patterns[p];
        if (!lens[p]) continue;
        int32_t node = t->root[s[0]];
        if (node < 0 && (node = t->root[s[0]] = trie_new_node(t, s[0])) < 0) goto oom;
        for (uint32_t k = 1; k < lens[p]; k++) {
            int32_t c = t->nodes[node].child;
            while (c >= 0 && t->nodes[c].byte != s[k])
                c = t->nodes[c].sibling;
            if (c < 0) {
                if ((c = trie_new_node(t, s[k])) < 0) goto oom;
                t->nodes[c].sibling = t->nodes[node].child;
                t->nodes[node].child = c;
            }
            node = c;
        }
        if (t->nodes[node].pattern < 0) t->nodes[node].pattern = (int32_t)p;
    }
    *out = t;
    return INGOT_OK;
oom:
    ingot__trie_free(t);
    return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
}

/* The leftmost-longest match at or after from: start, end, pattern; false when none. */
static bool trie_find(const tok_trie *t, const unsigned char *s, size_t len, size_t from,
                      size_t *ms, size_t *me, int32_t *pat) {
    for (size_t i = from; i < len; i++) {
        int32_t node = t->root[s[i]];
        if (node < 0) continue;
        int32_t best = -1;
        size_t best_end = 0, k = i + 1;
        for (;;) {
            if (t->nodes[node].pattern >= 0) {
                best = t->nodes[node].pattern;
                best_end = k;
            }
            if (k >= len) break;
            int32_t c = t->nodes[node].child;
            while (c >= 0 && t->nodes[c].byte != s[k])
                c = t->nodes[c].sibling;
            if (c < 0) break;
            node = c;
            k++;
        }
        if (best >= 0) {
            *ms = i;
            *me = best_end;
            *pat = best;
            return true;
        }
    }
    return false;
}

/* Rust regex \w: Alphabetic, marks, decimal digits, connector punctuation, Join_Control. */
static bool is_word_char(uint32_t cp) {
    if (cp == '_' || cp == 0x200C || cp == 0x200D) return true;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC: return true;
    default: return false;
    }
}

/* The start of the character ending at end (> 0). */
static size_t prev_char(const char *s, size_t end) {
    size_t k = end - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

static uint32_t cp_at(const char *s, size_t i) {
    size_t adv;
    return ingot__utf8_decode((const unsigned char *)s + i, &adv);
}

static ingot_status add_split(tok_split **splits, size_t *n, size_t *cap, size_t start, size_t end,
                              int32_t token) {
    tok_split *ns = ingot__grow(*splits, cap, *n + 1, sizeof *ns, 16);
    if (!ns) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    *splits = ns;
    (*splits)[(*n)++] = (tok_split){start, end, token};
    return INGOT_OK;
}

ingot_status ingot__added_split(const tok_trie *t, const tok_added *tokens, const int32_t *pat_tok,
                                const char *s, size_t len, bool skip_special, tok_split **splits,
                                size_t *n, size_t *cap) {
    *n = 0;
    size_t start_offset = 0, from = 0, ms, me;
    int32_t pat;
    ingot_status st = INGOT_OK;
    while (t && !st && trie_find(t, (const unsigned char *)s, len, from, &ms, &me, &pat)) {
        from = me;
        int32_t ti = pat_tok[pat];
        const tok_added *a = &tokens[ti];
        if (skip_special && a->special) continue;
        if (a->single_word) {
            bool start_space = ms == 0 || !is_word_char(cp_at(s, prev_char(s, ms)));
            bool stop_space = me == len || !is_word_char(cp_at(s, me));
            if (!start_space || !stop_space) continue;
        }
        size_t start = ms, stop = me;
        /* The strips walk at most the text since the last split: before start_offset the
         * walk would be clamped anyway (lstrip), or is known to be whitespace already (the
         * previous token's rstrip), so each byte is walked once and whitespace tokens with
         * strips stay linear. */
        if (a->lstrip) {
            while (start > start_offset && ingot__unicode_ws(cp_at(s, prev_char(s, start))))
                start = prev_char(s, start);
        }
        if (a->rstrip) {
            if (stop < start_offset) stop = start_offset;
            while (stop < len) {
                size_t adv;
                if (!ingot__unicode_ws(ingot__utf8_decode((const unsigned char *)s + stop, &adv)))
                    break;
                stop += adv;
            }
        }
        if (start < start_offset) start = start_offset; /* overlaps an rstrip: keep order */
        if (start_offset < start) st = add_split(splits, n, cap, start_offset, start, -1);
        if (!st) st = add_split(splits, n, cap, start, stop, ti);
        start_offset = stop;
    }
    if (!st && start_offset < len) st = add_split(splits, n, cap, start_offset, len, -1);
    return st;
}
