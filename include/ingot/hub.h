/* ingot/hub.h - models named by a Hugging Face repo id, found in the local
 * Hugging Face cache.
 *
 * Programs built on transformers or mlx-lm name a model by its Hub repo id
 * ("Qwen/Qwen3-0.6B") and find it in the cache huggingface_hub downloads
 * into. ingot reads that cache with huggingface_hub's rules and never
 * downloads anything (fetch a model with `hf download ORG/NAME`, or
 * huggingface-cli in older releases):
 *
 *   cache    $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (its older name),
 *            else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 *            ~/.cache/huggingface/hub, with ~ from $HOME or, when HOME is
 *            unset, the user's home in the password database. A variable
 *            set to "" counts as unset (huggingface_hub would use ""); a
 *            leading "~" or "~/" in a value is expanded ("~user" is not).
 *   repo     <cache>/models--ORG--NAME (models--NAME for an id without ORG)
 *   commit   REVISION (default "main") is looked up in <repo>/refs/REVISION,
 *            a file holding a commit hash; when there is no such file,
 *            REVISION is taken as a commit hash itself
 *   folder   <repo>/snapshots/<commit>: the repo's files as symbolic links
 *            to ../../blobs/<hash> (safetensors.h, "Links", says why the
 *            weights may live there)
 *
 * Thread rule: the functions read the environment (getenv) and the file
 * system; they may run on several threads at once, but not while another
 * thread changes the environment. */
#ifndef INGOT_HUB_H
#define INGOT_HUB_H

#include "ingot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero-initialised (or NULL) means: the cache the environment names. */
typedef struct ingot_hub_options {
    const char *cache_dir; /* the cache folder to search (what HF_HUB_CACHE
                              would name); NULL: the rules above */
} ingot_hub_options;

/* The cache folder the environment names (the rules above), as a string in
 * *out that the caller frees with free(); it need not exist. On error *out is
 * NULL. Errors: INVALID_ARGUMENT (out NULL), NOT_FOUND (a "~" to expand, in a
 * variable or the default, and no home folder: HOME unset and none in the
 * password database; the message says so), OUT_OF_MEMORY. */
ingot_status ingot_hub_cache_dir(char **out);

/* What a model argument (a --model value) names, as a folder path in *out
 * that the caller frees with free():
 *  - model itself, unchanged, when it names an existing file or folder (a
 *    local path always wins) or cannot be a repo id (then the loader it is
 *    given to reports the missing path);
 *  - else, for a repo id "[ORG/]NAME[@REVISION]", its snapshot folder
 *    <cache>/models--ORG--NAME/snapshots/<commit> (rules above), which must
 *    exist. A repo id is huggingface_hub's: ORG and NAME made of ASCII
 *    letters, digits, '-', '_' and '.', neither starting nor ending with '-'
 *    or '.', without "--" or "..", at most 96 characters in all. REVISION is
 *    a branch or tag name, or a commit hash; it may hold '/' ("refs/pr/1")
 *    but not a ".." component or a leading '/'.
 * Nothing is downloaded and nothing is written. opts may be NULL.
 * On error *out is NULL. Errors: INVALID_ARGUMENT (out or model NULL, model
 * empty), NOT_FOUND (a repo id the cache lacks: the message names each path
 * looked for and the variable that chose the cache; or no cache folder, as
 * ingot_hub_cache_dir), FORMAT (a refs file that holds no commit hash), IO
 * (a refs file that cannot be read), OUT_OF_MEMORY. */
ingot_status ingot_hub_resolve(char **out, const char *model, const ingot_hub_options *opts);

#ifdef __cplusplus
}
#endif
#endif
