/* The chat-template lexer: Jinja2's, configured as transformers configures
 * it (trim_blocks, lstrip_blocks, keep_trailing_newline off, "\n" newlines).
 * Also home of the template arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "text/jinja_ast.h"

/* ---- arena ---- */

typedef struct jchunk {
    struct jchunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} jchunk;

#define CHUNK_SIZE 65536

void *jarena_alloc(void *arena, size_t n) {
    jarena *a = arena;
    n = (n + 15) & ~(size_t)15;
    jchunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *jarena_strdup(jarena *a, const char *s, size_t len) {
    char *d = jarena_alloc(a, len + 1);
    if (d && len) memcpy(d, s, len);
    return d;
}

void jarena_free(jarena *a) {
    for (jchunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

/* ---- lexer ---- */

typedef struct lexer {
    const char *src;
    size_t len, pos;
    jtokens *toks;
    jarena *arena;
    /* line/column bookkeeping, advanced monotonically: lc_col counts the code points in
     * [line_start, lc_pos), so positioning every token on a long line stays linear */
    size_t lc_pos, line_start, lc_col;
    int line;
    bool line_starting;
    char stack[256]; /* open brackets inside a tag */
    int depth;
} lexer;

static void line_col(lexer *L, size_t pos, int *line, int *col) {
    for (; L->lc_pos < pos; L->lc_pos++) {
        unsigned char ch = (unsigned char)L->src[L->lc_pos];
        if (ch == '\n') {
            L->line++;
            L->line_start = L->lc_pos + 1;
            L->lc_col = 0;
        } else {
            L->lc_col += (ch & 0xc0) != 0x80;
        }
    }
    int c = 1;
    if (pos == L->lc_pos)
        c += (int)L->lc_col;
    else /* behind the bookkeeping (not expected): count again */
        for (size_t i = L->line_start; i < pos; i++)
            c += ((unsigned char)L->src[i] & 0xc0) != 0x80;
    *line = L->line;
    *col = c;
}

static ingot_status lex_error(lexer *L, size_t pos, const char *msg, const char *arg) {
    int line, col;
    line_col(L, pos, &line, &col);
    return ingot__error(INGOT_ERR_FORMAT, "template:%d:%d: %s%s", line, col, msg, arg ? arg : "");
}

static ingot_status push(lexer *L, jtok t, size_t pos) {
    jtok *v = ingot__grow(L->toks->v, &L->toks->cap, L->toks->n + 1, sizeof *v, 256);
    if (!v) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory (tokens)");
    L->toks->v = v;
    line_col(L, pos, &t.line, &t.col);
    L->toks->v[L->toks->n++] = t;
    return INGOT_OK;
}

static ingot_status push_text(lexer *L, jtok_kind kind, const char *s, size_t len, size_t pos) {
    char *d = jarena_strdup(L->arena, s, len);
    if (!d) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
    return push(L, (jtok){.kind = (uint8_t)kind, .s = d, .len = len}, pos);
}

/* Length of the whitespace code point at s[i] (Python's \s), or 0. */
static size_t ws_len(const char *s, size_t len, size_t i) {
    if (i >= len) return 0;
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) return jv_py_isspace(c) ? 1 : 0;
    size_t j = i;
    uint32_t cp = jv_utf8_next(s, &j);
    return jv_py_isspace(cp) ? j - i : 0;
}

static size_t skip_ws(const char *s, size_t len, size_t i) {
    for (size_t n; (n = ws_len(s, len, i)) > 0;)
        i += n;
    return i;
}

/* Strips the text before a tag as Jinja2 does: everything for '-', the
 * spaces of the tag's line under lstrip_blocks (not for '+' or {{). */
static size_t strip_before(lexer *L, const char *text, size_t n, char sign, bool lstrip) {
    if (sign == '-') {
        /* rstrip of Unicode whitespace: walk back over code points */
        size_t end = n;
        while (end > 0) {
            size_t start = end - 1;
            while (start > 0 && ((unsigned char)text[start] & 0xc0) == 0x80)
                start--;
            if (ws_len(text, n, start) != end - start) break;
            end = start;
        }
        return end;
    }
    if (sign == '+' || !lstrip) return n;
    size_t l_pos = n;
    while (l_pos > 0 && text[l_pos - 1] != '\n')
        l_pos--;
    if (l_pos == 0 && !L->line_starting) return n;
    if (l_pos < n && skip_ws(text, n, l_pos) == n) return l_pos;
    return n;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a string literal's body as Python's unicode-escape codec does. */
static ingot_status lex_string(lexer *L, size_t start) {
    const char *s = L->src;
    char q = s[start];
    size_t i = start + 1;
    while (i < L->len && s[i] != q)
        i += s[i] == '\\' && i + 1 < L->len ? 2 : 1;
    if (i >= L->len) return lex_error(L, start, "unterminated string literal", NULL);
    size_t end = i;
    jv_buf b = {.max = SIZE_MAX / 2};
    ingot_status st = INGOT_OK;
    for (i = start + 1; i < end && !st;) {
        if (s[i] != '\\') {
            size_t j = i;
            while (j < end && s[j] != '\\')
                j++;
            st = jv_buf_add(&b, s + i, j - i);
            i = j;
            continue;
        }
        char c = s[i + 1];
        i += 2;
        const char *simple = strchr("\\'\"abfnrtv", c);
        if (c && simple) {
            static const char map[] = "\\'\"\a\b\f\n\r\t\v";
            st = jv_buf_addc(&b, map[simple - "\\'\"abfnrtv"]);
        } else if (c == '\n') {
            /* line continuation */
        } else if (c >= '0' && c <= '7') {
            uint32_t v = (uint32_t)(c - '0');
            for (int k = 0; k < 2 && i < end && s[i] >= '0' && s[i] <= '7'; k++, i++)
                v = v * 8 + (uint32_t)(s[i] - '0');
            st = jv_buf_addcp(&b, v);
        } else if (c == 'x' || c == 'u' || c == 'U') {
            int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            uint32_t v = 0;
            for (int k = 0; k < digits; k++, i++) {
                int h = i < end ? hexval(s[i]) : -1;
                if (h < 0) {
                    jv_buf_free(&b);
                    return lex_error(L, start, "truncated \\",
                                     c == 'x'   ? "xXX escape"
                                     : c == 'u' ? "uXXXX escape"
                                                : "UXXXXXXXX escape");
                }
                v = v * 16 + (uint32_t)h;
            }
            if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
                jv_buf_free(&b);
                return lex_error(L, start, "string escape is not a Unicode scalar value", NULL);
            }
            st = jv_buf_addcp(&b, v);
        } else if (c == 'N') {
            jv_buf_free(&b);
            return ingot__error(INGOT_ERR_UNSUPPORTED,
                                "template: \\N{...} escapes in string literals are not supported");
        } else if ((unsigned char)c >= 0x80) {
            /* Jinja2 escapes non-ASCII with backslashreplace before decoding,
             * so "\é" reads as a backslash followed by "xe9" */
            size_t j = i - 1;
            uint32_t cp = jv_utf8_next(s, &j);
            char tmp[16];
            int n = cp < 0x100     ? snprintf(tmp, sizeof tmp, "\\x%02x", cp)
                    : cp < 0x10000 ? snprintf(tmp, sizeof tmp, "\\u%04x", cp)
                                   : snprintf(tmp, sizeof tmp, "\\U%08x", cp);
            st = jv_buf_add(&b, tmp, (size_t)n);
            i = j;
        } else {
            char tmp[2] = {'\\', c};
            st = jv_buf_add(&b, tmp, 2);
        }
    }
    if (!st) st = push_text(L, TK_STRING, b.data ? b.data : "", b.len, start);
    jv_buf_free(&b);
    L->pos = end + 1;
    return st;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Digits with single underscores between them, copied without them. */
static size_t scan_digits(const char *s, size_t len, size_t i, int base, char *out, size_t *on) {
    size_t start = i;
    while (i < len) {
        int h = hexval(s[i]);
        if (h >= 0 && h < base && (base == 16 || is_digit(s[i]))) {
            if (*on < 400) out[(*on)++] = s[i];
            i++;
        } else if (s[i] == '_' && i > start && i + 1 < len && hexval(s[i + 1]) >= 0 &&
                   hexval(s[i + 1]) < base) {
            i++;
        } else {
            break;
        }
    }
    return i;
}

static ingot_status lex_number(lexer *L) {
    const char *s = L->src;
    size_t start = L->pos, i = start;
    char buf[420];
    size_t n = 0;
    int base = 10;
    if (s[i] == '0' && i + 2 < L->len && strchr("xXoObB", s[i + 1]) &&
        hexval(s[i + 2 + (s[i + 2] == '_')]) >= 0) {
        base = s[i + 1] == 'x' || s[i + 1] == 'X' ? 16 : s[i + 1] == 'o' || s[i + 1] == 'O' ? 8 : 2;
        i = scan_digits(s, L->len, i + 2 + (s[i + 2] == '_'), base, buf, &n);
    } else {
        i = scan_digits(s, L->len, i, 10, buf, &n);
        bool is_float = false;
        bool after_dot = start > 0 && s[start - 1] == '.';
        if (!after_dot && i + 1 < L->len && s[i] == '.' && is_digit(s[i + 1])) {
            buf[n++] = '.';
            i = scan_digits(s, L->len, i + 1, 10, buf, &n);
            is_float = true;
        }
        if (!after_dot && i + 1 < L->len && (s[i] == 'e' || s[i] == 'E')) {
            size_t j = i + 1;
            if (j < L->len && (s[j] == '+' || s[j] == '-')) j++;
            if (j < L->len && is_digit(s[j])) {
                buf[n++] = 'e';
                if (s[i + 1] == '-') buf[n++] = '-';
                i = scan_digits(s, L->len, j, 10, buf, &n);
                is_float = true;
            }
        }
        if (is_float) {
            buf[n] = '\0';
            L->pos = i;
            return push(L, (jtok){.kind = TK_FLOAT, .f = ingot__strtod_c(buf, NULL)}, start);
        }
        if (s[start] == '0') { /* Jinja2's integers starting with 0 are only zeros */
            n = 0;
            i = start;
            while (i < L->len && (s[i] == '0' || (s[i] == '_' && i + 1 < L->len &&
                                                  s[i + 1] == '0' && i > start))) {
                if (s[i] == '0') buf[n++] = '0';
                i++;
                if (n >= 400) break;
            }
        }
    }
    if (n >= 400) return lex_error(L, start, "integer literal too large", NULL);
    buf[n] = '\0';
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t d = (uint64_t)hexval(buf[k]);
        if (v > (UINT64_MAX - d) / (uint64_t)base || v * (uint64_t)base + d > INT64_MAX)
            return ingot__error(INGOT_ERR_UNSUPPORTED,
                                "template: integer literal beyond 64 bits is not supported");
        v = v * (uint64_t)base + d;
    }
    L->pos = i;
    return push(L, (jtok){.kind = TK_INT, .i = (int64_t)v}, start);
}

static ingot_status lex_operator(lexer *L) {
    static const struct {
        const char *text;
        jop op;
    } ops[] = {
        {"//", OP_FLOORDIV}, {"**", OP_POW},      {"==", OP_EQ},    {"!=", OP_NE},
        {">=", OP_GTEQ},     {"<=", OP_LTEQ},     {"+", OP_ADD},    {"-", OP_SUB},
        {"/", OP_DIV},       {"*", OP_MUL},       {"%", OP_MOD},    {"~", OP_TILDE},
        {"[", OP_LBRACKET},  {"]", OP_RBRACKET},  {"(", OP_LPAREN}, {")", OP_RPAREN},
        {"{", OP_LBRACE},    {"}", OP_RBRACE},    {">", OP_GT},     {"<", OP_LT},
        {"=", OP_ASSIGN},    {".", OP_DOT},       {":", OP_COLON},  {"|", OP_PIPE},
        {",", OP_COMMA},     {";", OP_SEMICOLON},
    };
    const char *s = L->src + L->pos;
    size_t left = L->len - L->pos;
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        size_t n = strlen(ops[k].text);
        if (n > left || memcmp(s, ops[k].text, n) != 0) continue;
        char c = s[0];
        if (n == 1 && (c == '(' || c == '[' || c == '{')) {
            if (L->depth == (int)sizeof L->stack)
                return lex_error(L, L->pos, "brackets nested too deeply", NULL);
            L->stack[L->depth++] = c == '(' ? ')' : c == '[' ? ']' : '}';
        } else if (n == 1 && (c == ')' || c == ']' || c == '}')) {
            char msg[64];
            if (L->depth == 0) {
                snprintf(msg, sizeof msg, "unexpected '%c'", c);
                return lex_error(L, L->pos, msg, NULL);
            }
            if (L->stack[L->depth - 1] != c) {
                snprintf(msg, sizeof msg, "unexpected '%c', expected '%c'", c,
                         L->stack[L->depth - 1]);
                return lex_error(L, L->pos, msg, NULL);
            }
            L->depth--;
        }
        size_t at = L->pos;
        L->pos += n;
        return push(L, (jtok){.kind = TK_OP, .op = (uint8_t)ops[k].op}, at);
    }
    char msg[32];
    snprintf(msg, sizeof msg, "unexpected char '%c'", s[0]);
    return lex_error(L, L->pos, msg, NULL);
}

/* The inside of {{ ... }} or {% ... %} up to and including its end. */
static ingot_status lex_tag(lexer *L, bool block) {
    const char *s = L->src;
    size_t tag_start = L->pos;
    L->depth = 0;
    for (;;) {
        size_t p = L->pos;
        if (L->depth == 0) {
            const char *end = block ? "%}" : "}}";
            size_t end_at = p, after = 0;
            char sign = 0;
            if (p + 3 <= L->len && (s[p] == '-' || (block && s[p] == '+')) &&
                memcmp(s + p + 1, end, 2) == 0) {
                sign = s[p];
                after = p + 3;
            } else if (p + 2 <= L->len && memcmp(s + p, end, 2) == 0) {
                after = p + 2;
            }
            if (after) {
                if (sign == '-')
                    after = skip_ws(s, L->len, after);
                else if (block && sign == 0 && after < L->len && s[after] == '\n')
                    after++;
                ingot_status st =
                    push(L, (jtok){.kind = block ? TK_BLOCK_END : TK_VAR_END}, end_at);
                L->pos = after;
                L->line_starting = after > 0 && s[after - 1] == '\n';
                return st;
            }
        }
        if (p >= L->len)
            return lex_error(L, tag_start,
                             block ? "unclosed block tag (missing '%}')"
                                   : "unclosed variable tag (missing '}}')",
                             NULL);
        size_t w = skip_ws(s, L->len, p);
        if (w > p) {
            L->pos = w;
            continue;
        }
        ingot_status st;
        char c = s[p];
        if (is_digit(c)) {
            st = lex_number(L);
        } else if (is_name_start(c)) {
            size_t e = p;
            while (e < L->len && (is_name_start(s[e]) || is_digit(s[e])))
                e++;
            st = push_text(L, TK_NAME, s + p, e - p, p);
            L->pos = e;
        } else if (c == '\'' || c == '"') {
            st = lex_string(L, p);
        } else {
            st = lex_operator(L);
        }
        if (st) return st;
    }
}

/* Is there a {% raw %} at s[i] (which holds "{%")? Returns the end of the
 * raw-begin tag, 0 if none. */
static size_t raw_begin(const lexer *L, size_t i) {
    const char *s = L->src;
    size_t j = i + 2;
    if (j < L->len && (s[j] == '-' || s[j] == '+')) j++;
    j = skip_ws(s, L->len, j);
    if (j + 3 > L->len || memcmp(s + j, "raw", 3) != 0) return 0;
    j = skip_ws(s, L->len, j + 3);
    if (j + 3 <= L->len && memcmp(s + j, "-%}", 3) == 0) return skip_ws(s, L->len, j + 3);
    if (j + 2 <= L->len && memcmp(s + j, "%}", 2) == 0) return j + 2;
    return 0;
}

/* Finds {% endraw %} from pos: sets *tag (its "{%") and *after (its end). */
static bool find_endraw(const lexer *L, size_t pos, size_t *tag, char *sign, size_t *after) {
    const char *s = L->src;
    for (size_t i = pos; i + 1 < L->len; i++) {
        if (s[i] != '{' || s[i + 1] != '%') continue;
        size_t j = i + 2;
        char sg = 0;
        if (j < L->len && (s[j] == '-' || s[j] == '+')) sg = s[j++];
        j = skip_ws(s, L->len, j);
        if (j + 6 > L->len || memcmp(s + j, "endraw", 6) != 0) continue;
        j = skip_ws(s, L->len, j + 6);
        if (j + 3 <= L->len && memcmp(s + j, "+%}", 3) == 0) {
            *after = j + 3;
        } else if (j + 3 <= L->len && memcmp(s + j, "-%}", 3) == 0) {
            *after = skip_ws(s, L->len, j + 3);
        } else if (j + 2 <= L->len && memcmp(s + j, "%}", 2) == 0) {
            *after = j + 2 + (j + 2 < L->len && s[j + 2] == '\n');
        } else {
            continue;
        }
        *tag = i;
        *sign = sg;
        return true;
    }
    return false;
}

static ingot_status emit_data(lexer *L, size_t from, size_t to, char sign, bool lstrip) {
    size_t n = strip_before(L, L->src + from, to - from, sign, lstrip);
    return n ? push_text(L, TK_DATA, L->src + from, n, from) : INGOT_OK;
}

static ingot_status lex_root(lexer *L) {
    const char *s = L->src;
    while (L->pos < L->len) {
        size_t i = L->pos;
        while (i + 1 < L->len && !(s[i] == '{' && strchr("{%#", s[i + 1]) && s[i + 1]))
            i++;
        if (i + 1 >= L->len) return push_text(L, TK_DATA, s + L->pos, L->len - L->pos, L->pos);
        char kind = s[i + 1];
        char sign = i + 2 < L->len && (s[i + 2] == '-' || s[i + 2] == '+') ? s[i + 2] : 0;
        size_t raw_end = kind == '%' ? raw_begin(L, i) : 0;
        ingot_status st = emit_data(L, L->pos, i, sign, kind != '{');
        if (st) return st;
        if (raw_end) {
            L->line_starting = s[raw_end - 1] == '\n';
            size_t tag, after;
            char rsign;
            if (!find_endraw(L, raw_end, &tag, &rsign, &after))
                return lex_error(L, i, "missing end of raw directive", NULL);
            if ((st = emit_data(L, raw_end, tag, rsign, true))) return st;
            L->pos = after;
            L->line_starting = s[after - 1] == '\n';
        } else if (kind == '#') {
            size_t j = i + 2 + (sign != 0);
            while (j + 1 < L->len && !(s[j] == '#' && s[j + 1] == '}'))
                j++;
            if (j + 1 >= L->len) return lex_error(L, i, "missing end of comment tag", NULL);
            char esign = j > i + 2 + (sign != 0) ? s[j - 1] : 0;
            size_t after = j + 2;
            if (esign == '-')
                after = skip_ws(s, L->len, after);
            else if (esign != '+' && after < L->len && s[after] == '\n')
                after++;
            L->pos = after;
            L->line_starting = s[after - 1] == '\n';
        } else {
            bool block = kind == '%';
            if ((st = push(L, (jtok){.kind = block ? TK_BLOCK_BEGIN : TK_VAR_BEGIN}, i))) return st;
            L->pos = i + 2 + (sign != 0);
            if ((st = lex_tag(L, block))) return st;
        }
    }
    return INGOT_OK;
}

ingot_status jinja__lex(jtokens *toks, jarena *arena, const char *src, size_t len) {
    /* newlines normalised to "\n", one trailing newline dropped, as Jinja2 does */
    char *norm = malloc(len + 1);
    if (!norm) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, "template: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            norm[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            norm[n++] = src[i];
        }
    }
    if (n > 0 && norm[n - 1] == '\n') n--;
    norm[n] = '\0';
    lexer L = {
        .src = norm, .len = n, .toks = toks, .arena = arena, .line = 1, .line_starting = true};
    ingot_status st = lex_root(&L);
    if (!st) st = push(&L, (jtok){.kind = TK_EOF}, L.len);
    free(norm);
    return st;
}
