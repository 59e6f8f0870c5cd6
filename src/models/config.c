/* config.json: both the Hub form (rope_theta, rope_scaling,
 * rope_local_base_freq, sliding_window_pattern) and the transformers 5 form
 * (rope_parameters, per layer type for Gemma 3, layer_types). Keys the model
 * cannot do without are required; others take transformers' defaults for
 * the family, which the table below holds, one row per model_type. Every
 * error names the key. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "io/io_internal.h"
#include "models/models_internal.h"

#define CFG "config.json"

/* Which layers slide when config.json has no layer_types. */
typedef enum slide_rule {
    SLIDE_QWEN,    /* use_sliding_window: the layers from max_window_layers on */
    SLIDE_PATTERN, /* Gemma 3: all but every sliding_window_pattern-th */
    SLIDE_ALL,     /* Mistral, Phi-3: every layer, unless sliding_window is null */
} slide_rule;

/* A family: transformers' defaults for the keys a config may leave out, and
 * what the family's code fixes whatever the config says. */
typedef struct family {
    const char *model_type;
    bool text_config;              /* the text model's keys lie in text_config (multimodal) */
    const char *act_key, *act_def; /* the activation's key (else hidden_act) and default */
    int64_t head_dim;              /* 0: hidden_size / num_attention_heads */
    int64_t kv_heads;              /* num_key_value_heads; 0: num_attention_heads */
    int64_t context;               /* max_position_embeddings */
    int64_t window;                /* sliding_window when absent; 0: required when a layer slides */
    int64_t rope_original;         /* original_max_position_embeddings for longrope; 0: the
                                      rope's own key, else max_position_embeddings */
    double eps, theta;             /* rms_norm_eps, rope_theta */
    double local_theta;            /* rope_local_base_freq of sliding layers; 0: their rope is
                                      the full layers' */
    double attn_scalar;            /* query_pre_attn_scalar (scale scalar^-0.5); 0: not read,
                                      scale head_dim^-0.5 */
    slide_rule slides;
    bool qk_norm;     /* per-head RMSNorm of q and k */
    bool qkv_bias;    /* q, k and v have biases whatever attention_bias says */
    bool bias_keys;   /* attention_bias and mlp_bias are read (else false) */
    bool tied;        /* tie_word_embeddings */
    bool gemma_norms; /* (1 + w) norms, four per layer, scaled embedding */
    bool softcap;     /* final_logit_softcapping read, attn_logit_softcapping refused */
    bool fused;       /* qkv_proj and gate_up_proj weights */
} family;

#define GEMMA3                                                                                     \
    .act_key = "hidden_activation", .act_def = "gelu_pytorch_tanh", .head_dim = 256,               \
    .context = 131072, .eps = 1e-6, .theta = 1e6, .local_theta = 1e4, .attn_scalar = 256,          \
    .slides = SLIDE_PATTERN, .qk_norm = true, .bias_keys = true, .tied = true,                     \
    .gemma_norms = true, .softcap = true

/* The supported families (docs/models.md describes them). */
static const family families[] = {
    {.model_type = "qwen3", .act_key = "hidden_act", .act_def = "silu", .head_dim = 128,
     .context = 32768, .eps = 1e-6, .theta = 1e4, .slides = SLIDE_QWEN, .qk_norm = true,
     .bias_keys = true},
    {.model_type = "qwen2", .act_key = "hidden_act", .act_def = "silu", .context = 32768,
     .eps = 1e-6, .theta = 1e4, .slides = SLIDE_QWEN, .qkv_bias = true, .bias_keys = true},
    {.model_type = "llama", .act_key = "hidden_act", .act_def = "silu", .context = 2048,
     .eps = 1e-6, .theta = 1e4, .slides = SLIDE_QWEN, .bias_keys = true},
    {.model_type = "gemma3_text", GEMMA3},
    {.model_type = "gemma3", .text_config = true, GEMMA3},
    {.model_type = "mistral", .act_key = "hidden_act", .act_def = "silu", .kv_heads = 8,
     .context = 131072, .window = 4096, .eps = 1e-6, .theta = 1e4, .slides = SLIDE_ALL},
    {.model_type = "phi3", .act_key = "hidden_act", .act_def = "silu", .context = 4096,
     .rope_original = 4096, .eps = 1e-5, .theta = 1e4, .slides = SLIDE_ALL, .fused = true},
};

/* Looks up key; NULL when absent or JSON null. */
static json_t *get(const json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* The largest size any integer key may give. */
#define MAX_DIM ((int64_t)1 << 40)

/* Integer key in [1, MAX_DIM] (required when def < 0, else def when absent). */
static ingot_status get_int(int64_t *out, const json_t *obj, const char *key, int64_t def) {
    json_t *v = get(obj, key);
    if (!v) {
        if (def < 0)
            return ingot__error(INGOT_ERR_FORMAT, CFG ": required key '%s' is missing", key);
        *out = def;
        return INGOT_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > MAX_DIM)
        return ingot__error(INGOT_ERR_FORMAT, CFG ": '%s' must be a positive integer", key);
    *out = json_integer_value(v);
    return INGOT_OK;
}

/* Number key (finite; > 0 when positive), def when absent. */
static ingot_status get_num(double *out, const json_t *obj, const char *key, double def,
                            bool positive) {
    json_t *v = get(obj, key);
    if (!v) {
        *out = def;
        return INGOT_OK;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
        (positive && json_number_value(v) <= 0))
        return ingot__error(INGOT_ERR_FORMAT, CFG ": '%s' must be a %snumber", key,
                            positive ? "positive " : "");
    *out = json_number_value(v);
    return INGOT_OK;
}

static ingot_status get_bool(bool *out, const json_t *obj, const char *key, bool def) {
    json_t *v = get(obj, key);
    if (!v) {
        *out = def;
        return INGOT_OK;
    }
    if (!json_is_boolean(v))
        return ingot__error(INGOT_ERR_FORMAT, CFG ": '%s' must be true or false", key);
    *out = json_is_true(v);
    return INGOT_OK;
}

/* partial_rotary_factor (top level: what ""; or in rope object what): only 1,
 * every feature rotated (longrope's attention factor, folded into the
 * attention scale, relies on it). */
static ingot_status check_partial_rotary(const json_t *obj, const char *what) {
    double f = 1;
    ingot_status st = get_num(&f, obj, "partial_rotary_factor", 1, true);
    if (!st && f != 1)
        st = ingot__error(INGOT_ERR_UNSUPPORTED,
                          CFG ": '%s%spartial_rotary_factor' %g is not supported (only 1)", what,
                          *what ? "." : "", f);
    return st;
}

/* longrope (modeling_rope_utils._compute_longrope_parameters): short_factor
 * and long_factor, head_dim / 2 positive numbers each; the length past which
 * the long ones apply: original (the top-level key or the family's default)
 * when nonzero, else the rope's own key, else max_position_embeddings; the
 * attention factor: given, else sqrt(1 + ln(factor) / ln(original)) with
 * factor given or max_position_embeddings / original (1 when factor <= 1). */
static ingot_status parse_longrope(ingot__rope_config *r, const json_t *obj, const char *what,
                                   const ingot__config *c, double original) {
    static const char *const keys[] = {"short_factor", "long_factor"};
    int64_t n = c->head_dim / 2;
    r->type = INGOT__ROPE_LONGROPE;
    r->factors = malloc(2 * (size_t)n * sizeof *r->factors);
    if (!r->factors) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, CFG ": out of memory");
    for (int j = 0; j < 2; j++) {
        json_t *list = get(obj, keys[j]);
        if (!json_is_array(list) || (int64_t)json_array_size(list) != n)
            return ingot__error(INGOT_ERR_FORMAT,
                                CFG ": '%s.%s' must be a list of head_dim / 2 (%lld) numbers", what,
                                keys[j], (long long)n);
        for (int64_t i = 0; i < n; i++) {
            double v = json_number_value(json_array_get(list, (size_t)i));
            if (!(v > 0) || !isfinite(v))
                return ingot__error(INGOT_ERR_FORMAT,
                                    CFG ": '%s.%s[%lld]' must be a positive number", what,
                                    keys[j], (long long)i);
            r->factors[j * n + i] = (float)v;
        }
    }
    double orig = original, factor = 0;
    ingot_status st = original > 0 ? INGOT_OK
                                   : get_num(&orig, obj, "original_max_position_embeddings",
                                             (double)c->max_position_embeddings, true);
    if (st) return st;
    if (orig < 2)
        return ingot__error(INGOT_ERR_FORMAT,
                            CFG ": '%s': original_max_position_embeddings (%g) must be at least 2",
                            what, orig);
    r->original_max_position_embeddings = orig;
    if ((st = get_num(&factor, obj, "factor", (double)c->max_position_embeddings / orig, true)))
        return st;
    double derived = factor <= 1 ? 1 : sqrt(1 + log(factor) / log(orig));
    return get_num(&r->attention_factor, obj, "attention_factor", derived, true);
}

/* A rope description: {"rope_type" (or "type"), "rope_theta", "factor", ...}
 * (rope_parameters entries carry their theta; rope_scaling ones take
 * theta_def). NULL obj is the default rope with theta_def. c gives head_dim
 * and max_position_embeddings; original is for longrope (parse_longrope). */
static ingot_status parse_rope(ingot__rope_config *r, const json_t *obj, double theta_def,
                               const char *what, const ingot__config *c, double original) {
    memset(r, 0, sizeof *r);
    r->type = INGOT__ROPE_DEFAULT;
    r->theta = theta_def;
    r->attention_factor = 1;
    if (!obj) return INGOT_OK;
    if (!json_is_object(obj))
        return ingot__error(INGOT_ERR_FORMAT, CFG ": '%s' must be an object", what);
    ingot_status st = get_num(&r->theta, obj, "rope_theta", theta_def, true);
    if (!st) st = check_partial_rotary(obj, what);
    if (st) return st;
    json_t *t = get(obj, "rope_type");
    if (!t) t = get(obj, "type");
    const char *type = t ? json_string_value(t) : "default";
    if (!type) return ingot__error(INGOT_ERR_FORMAT, CFG ": '%s.rope_type' must be a string", what);
    if (strcmp(type, "default") == 0) return INGOT_OK;
    if (strcmp(type, "longrope") == 0 || strcmp(type, "su") == 0) /* "su": its older name */
        return parse_longrope(r, obj, what, c, original);
    bool linear = strcmp(type, "linear") == 0, llama3 = strcmp(type, "llama3") == 0;
    if (!linear && !llama3)
        return ingot__error(
            INGOT_ERR_UNSUPPORTED,
            CFG ": rope type '%s' in '%s' is not supported (default, linear, llama3, longrope)",
            type, what);
    r->type = linear ? INGOT__ROPE_LINEAR : INGOT__ROPE_LLAMA3;
    if (!get(obj, "factor"))
        return ingot__error(INGOT_ERR_FORMAT, CFG ": '%s.factor' is missing", what);
    if ((st = get_num(&r->factor, obj, "factor", 1, true))) return st;
    if (linear) return INGOT_OK;
    static const char *const keys[] = {"low_freq_factor", "high_freq_factor",
                                       "original_max_position_embeddings"};
    double *vals[] = {&r->low_freq_factor, &r->high_freq_factor,
                      &r->original_max_position_embeddings};
    for (int i = 0; i < 3; i++) {
        if (!get(obj, keys[i]))
            return ingot__error(INGOT_ERR_FORMAT, CFG ": '%s.%s' is missing", what, keys[i]);
        if ((st = get_num(vals[i], obj, keys[i], 0, true))) return st;
    }
    if (r->high_freq_factor <= r->low_freq_factor)
        return ingot__error(INGOT_ERR_FORMAT,
                            CFG ": '%s': high_freq_factor must exceed low_freq_factor", what);
    return INGOT_OK;
}

/* Rope of full and sliding layers from either form; theta and the sliding
 * layers' own rope (Gemma 3) from the family f. */
static ingot_status parse_ropes(ingot__config *c, const json_t *tc, const family *f,
                                double original) {
    json_t *params = get(tc, "rope_parameters");
    ingot_status st;
    if (params) {
        if (!json_is_object(params))
            return ingot__error(INGOT_ERR_FORMAT, CFG ": 'rope_parameters' must be an object");
        json_t *full = get(params, "full_attention"), *slide = get(params, "sliding_attention");
        if (full || slide) { /* per layer type */
            if (!full)
                return ingot__error(INGOT_ERR_FORMAT,
                                    CFG ": 'rope_parameters.full_attention' is missing");
            if ((st = parse_rope(&c->rope_full, full, f->theta, "rope_parameters.full_attention",
                                 c, original)))
                return st;
            if (!slide) {
                c->rope_sliding = c->rope_full;
                return INGOT_OK;
            }
            return parse_rope(&c->rope_sliding, slide, f->theta,
                              "rope_parameters.sliding_attention", c, original);
        }
        if ((st = parse_rope(&c->rope_full, params, f->theta, "rope_parameters", c, original)))
            return st;
        c->rope_sliding = c->rope_full;
        return INGOT_OK;
    }
    double theta = f->theta;
    if ((st = get_num(&theta, tc, "rope_theta", f->theta, true)) ||
        (st = parse_rope(&c->rope_full, get(tc, "rope_scaling"), theta, "rope_scaling", c,
                         original)))
        return st;
    if (!f->local_theta) {
        c->rope_sliding = c->rope_full;
        return INGOT_OK;
    }
    double local = f->local_theta;
    if ((st = get_num(&local, tc, "rope_local_base_freq", f->local_theta, true))) return st;
    return parse_rope(&c->rope_sliding, NULL, local, "rope_local_base_freq", c, original);
}

/* Which layers slide: layer_types, else the family's rule (slide_rule). */
static ingot_status parse_layer_types(ingot__config *c, const json_t *tc, const family *f) {
    c->layer_sliding = calloc((size_t)c->n_layers, sizeof(bool));
    if (!c->layer_sliding) return ingot__error(INGOT_ERR_OUT_OF_MEMORY, CFG ": out of memory");
    json_t *types = get(tc, "layer_types");
    ingot_status st;
    if (types) {
        if (!json_is_array(types) || (int64_t)json_array_size(types) != c->n_layers)
            return ingot__error(
                INGOT_ERR_FORMAT,
                CFG ": 'layer_types' must be an array of num_hidden_layers (%lld) strings",
                (long long)c->n_layers);
        for (int64_t i = 0; i < c->n_layers; i++) {
            const char *t = json_string_value(json_array_get(types, (size_t)i));
            if (!t || (strcmp(t, "full_attention") && strcmp(t, "sliding_attention")))
                return ingot__error(
                    INGOT_ERR_FORMAT,
                    CFG ": 'layer_types[%lld]' must be \"full_attention\" or \"sliding_attention\"",
                    (long long)i);
            c->layer_sliding[i] = strcmp(t, "sliding_attention") == 0;
        }
    } else if (f->slides == SLIDE_PATTERN) {
        int64_t pattern = 6;
        if ((st = get_int(&pattern, tc, "sliding_window_pattern", 6))) return st;
        for (int64_t i = 0; i < c->n_layers; i++)
            c->layer_sliding[i] = (i + 1) % pattern != 0;
    } else if (f->slides == SLIDE_ALL) {
        json_t *w = json_object_get(tc, "sliding_window"); /* absent: the family's default */
        bool all = w ? !json_is_null(w) : f->window > 0;
        for (int64_t i = 0; i < c->n_layers; i++)
            c->layer_sliding[i] = all;
    } else {
        bool use = false;
        int64_t max_window_layers = 0;
        if ((st = get_bool(&use, tc, "use_sliding_window", false))) return st;
        if ((st = get_int(&max_window_layers, tc, "max_window_layers", c->n_layers))) return st;
        for (int64_t i = 0; use && i < c->n_layers; i++)
            c->layer_sliding[i] = i >= max_window_layers;
    }
    bool any = false;
    for (int64_t i = 0; i < c->n_layers; i++)
        any |= c->layer_sliding[i];
    if (!any) {
        c->sliding_window = 0;
        return INGOT_OK;
    }
    return get_int(&c->sliding_window, tc, "sliding_window", f->window > 0 ? f->window : -1);
}

/* UNSUPPORTED for model_type type, naming the table's model types. */
static ingot_status unsupported_type(const char *type) {
    char list[256] = "";
    size_t n = 0;
    for (size_t i = 0; i < sizeof families / sizeof families[0] && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                              families[i].model_type);
    return ingot__error(INGOT_ERR_UNSUPPORTED, CFG ": model_type '%s' is not supported (%s)", type,
                        list);
}

/* model_type's row into *f, architectures, and the object holding the text
 * model's keys into *tc. */
static ingot_status parse_family(ingot__config *c, const json_t *root, const json_t **tc,
                                 const family **f) {
    json_t *mt = get(root, "model_type");
    if (!mt) return ingot__error(INGOT_ERR_FORMAT, CFG ": required key 'model_type' is missing");
    const char *type = json_string_value(mt);
    if (!type) return ingot__error(INGOT_ERR_FORMAT, CFG ": 'model_type' must be a string");
    json_t *arch = get(root, "architectures");
    if (arch) {
        const char *a = json_string_value(json_array_get(arch, 0));
        if (!json_is_array(arch) || (json_array_size(arch) > 0 && !a))
            return ingot__error(INGOT_ERR_FORMAT,
                                CFG ": 'architectures' must be an array of strings");
        snprintf(c->architecture, sizeof c->architecture, "%s", a ? a : "");
    }
    snprintf(c->model_type, sizeof c->model_type, "%s", type);
    *f = NULL;
    for (size_t i = 0; i < sizeof families / sizeof families[0] && !*f; i++)
        if (strcmp(type, families[i].model_type) == 0) *f = &families[i];
    if (!*f) return unsupported_type(type);
    c->multimodal = (*f)->text_config;
    *tc = c->multimodal ? get(root, "text_config") : root;
    if (!json_is_object(*tc))
        return ingot__error(INGOT_ERR_FORMAT, CFG ": model_type %s needs a 'text_config' object",
                            type);
    return INGOT_OK;
}

static ingot_status parse_activation(ingot__config *c, const json_t *tc, const family *f) {
    const char *key = f->act_key;
    json_t *v = get(tc, key);
    if (!v) v = get(tc, (key = "hidden_act"));
    const char *act = v ? json_string_value(v) : f->act_def;
    if (!act) return ingot__error(INGOT_ERR_FORMAT, CFG ": '%s' must be a string", key);
    if (!strcmp(act, "silu") || !strcmp(act, "swish"))
        c->act = INGOT__ACT_SILU;
    else if (!strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_new"))
        c->act = INGOT__ACT_GELU_TANH;
    else if (!strcmp(act, "gelu"))
        c->act = INGOT__ACT_GELU;
    else
        return ingot__error(
            INGOT_ERR_UNSUPPORTED,
            CFG ": activation '%s' is not supported (silu, gelu_pytorch_tanh, gelu)", act);
    return INGOT_OK;
}

/* Gemma 3's attention keys: query_pre_attn_scalar sets the scale, softcapping
 * of the logits (attention's is not supported). */
static ingot_status parse_attention(ingot__config *c, const json_t *tc, const family *f) {
    ingot_status st = INGOT_OK;
    double scalar = f->attn_scalar;
    if (f->attn_scalar > 0 &&
        !(st = get_num(&scalar, tc, "query_pre_attn_scalar", f->attn_scalar, true)))
        c->attn_scale = 1.0 / sqrt(scalar);
    if (st || !f->softcap) return st;
    if ((st = get_num(&c->final_logit_softcap, tc, "final_logit_softcapping", 0, true))) return st;
    if (get(tc, "attn_logit_softcapping"))
        return ingot__error(INGOT_ERR_UNSUPPORTED,
                            CFG ": 'attn_logit_softcapping' is not supported");
    return INGOT_OK;
}

/* longrope's attention factor multiplies cos and sin, so q.k by its square:
 * folded into attn_scale, one for every layer (layers of both kinds must
 * agree). */
static ingot_status fold_attention_factor(ingot__config *c) {
    bool full = false, sliding = false;
    for (int64_t i = 0; i < c->n_layers; i++) {
        full |= !c->layer_sliding[i];
        sliding |= c->layer_sliding[i];
    }
    double a = full ? c->rope_full.attention_factor : c->rope_sliding.attention_factor;
    if (full && sliding && c->rope_sliding.attention_factor != a)
        return ingot__error(
            INGOT_ERR_UNSUPPORTED,
            CFG ": rope attention factors that differ between full and sliding layers are not supported");
    double scale = c->attn_scale > 0 ? c->attn_scale : 1 / sqrt((double)c->head_dim);
    if (a != 1) c->attn_scale = scale * a * a;
    return INGOT_OK;
}

static ingot_status parse(ingot__config *c, const json_t *root) {
    if (!json_is_object(root))
        return ingot__error(INGOT_ERR_FORMAT, CFG ": the document must be a JSON object");
    const json_t *tc = NULL;
    const family *f = NULL;
    ingot_status st = parse_family(c, root, &tc, &f);
    if (st) return st;
    if ((st = get_int(&c->vocab_size, tc, "vocab_size", -1)) ||
        (st = get_int(&c->hidden_size, tc, "hidden_size", -1)) ||
        (st = get_int(&c->intermediate_size, tc, "intermediate_size", -1)) ||
        (st = get_int(&c->n_layers, tc, "num_hidden_layers", -1)) ||
        (st = get_int(&c->n_heads, tc, "num_attention_heads", -1)) ||
        (st = get_int(&c->n_kv_heads, tc, "num_key_value_heads",
                      f->kv_heads > 0 ? f->kv_heads : c->n_heads)))
        return st;
    int64_t hd_def = f->head_dim > 0 ? f->head_dim : c->hidden_size / c->n_heads;
    double original = (double)f->rope_original;
    if ((st = get_int(&c->head_dim, tc, "head_dim", hd_def)) ||
        (st = get_int(&c->max_position_embeddings, tc, "max_position_embeddings", f->context)) ||
        (st = get_num(&original, tc, "original_max_position_embeddings", original, true)) ||
        (st = get_num(&c->rms_norm_eps, tc, "rms_norm_eps", f->eps, true)) ||
        (st = get_bool(&c->tie_word_embeddings, tc, "tie_word_embeddings", f->tied)) ||
        (st = check_partial_rotary(tc, "")))
        return st;
    if (c->multimodal && !get(tc, "tie_word_embeddings") &&
        (st = get_bool(&c->tie_word_embeddings, root, "tie_word_embeddings", f->tied)))
        return st;
    if (c->n_heads % c->n_kv_heads)
        return ingot__error(
            INGOT_ERR_FORMAT,
            CFG ": num_attention_heads (%lld) is not a multiple of num_key_value_heads (%lld)",
            (long long)c->n_heads, (long long)c->n_kv_heads);
    if (c->head_dim < 1) /* the default hidden_size / num_attention_heads can be 0 */
        return ingot__error(
            INGOT_ERR_FORMAT,
            CFG ": 'head_dim' is missing and hidden_size (%lld) / num_attention_heads (%lld) is 0",
            (long long)c->hidden_size, (long long)c->n_heads);
    if (c->head_dim % 2)
        return ingot__error(INGOT_ERR_FORMAT, CFG ": head_dim (%lld) must be even",
                            (long long)c->head_dim);
    if (c->n_heads > (MAX_DIM / c->head_dim)) /* q_proj's rows: no int64 overflow */
        return ingot__error(INGOT_ERR_FORMAT,
                            CFG ": num_attention_heads x head_dim (%lld x %lld) is too large",
                            (long long)c->n_heads, (long long)c->head_dim);
    bool attn_bias = false;
    if (f->bias_keys && ((st = get_bool(&attn_bias, tc, "attention_bias", false)) ||
                         (st = get_bool(&c->mlp_bias, tc, "mlp_bias", false))))
        return st;
    c->attn_qkv_bias = attn_bias || f->qkv_bias;
    c->attn_o_bias = attn_bias;
    c->qk_norm = f->qk_norm;
    c->gemma_norms = f->gemma_norms;
    c->fused = f->fused;
    if ((st = parse_attention(c, tc, f)) || (st = parse_activation(c, tc, f)) ||
        (st = parse_layer_types(c, tc, f)) || (st = parse_ropes(c, tc, f, original)))
        return st;
    return fold_attention_factor(c);
}

ingot_status ingot__config_load(ingot__config *cfg, const char *path) {
    memset(cfg, 0, sizeof *cfg);
    char *data;
    size_t len;
    ingot_status st = ingot__read_file(&data, &len, path, INGOT_MODEL_CONFIG_MAX_BYTES, "model");
    if (st) return st;
    json_error_t err;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    free(data);
    if (!root)
        return ingot__error(INGOT_ERR_FORMAT, "%s: invalid JSON at line %d: %s", path, err.line,
                            err.text);
    st = parse(cfg, root);
    json_decref(root);
    return st;
}

void ingot__config_free(ingot__config *cfg) {
    free(cfg->layer_sliding);
    cfg->layer_sliding = NULL;
    if (cfg->rope_sliding.factors != cfg->rope_full.factors) free(cfg->rope_sliding.factors);
    free(cfg->rope_full.factors);
    cfg->rope_sliding.factors = NULL;
    cfg->rope_full.factors = NULL;
}
