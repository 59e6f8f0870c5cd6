/* ingot/safetensors.h - reading and writing safetensors files.
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON (the header), then the raw little-endian tensor data. The header
 * maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the first byte after the header) and may carry a
 * "__metadata__" object of string values. Large Hugging Face models are split
 * into shards listed by a model.safetensors.index.json file:
 * {"metadata": {...}, "weight_map": {"tensor name": "shard file name", ...}}.
 *
 * Loading is lazy and copy-free: ingot_safetensors_open maps every file with
 * mmap and validates every header completely, but no tensor data is read until
 * a tensor is asked for with ingot_safetensors_get, which returns an array
 * wrapping the mapped bytes. The mapping of a file stays alive while the
 * handle or any array made from it is alive (it is reference counted), so
 * arrays may outlive the handle.
 *
 * Validation is at least as strict as the Hugging Face reference
 * implementation, and stricter in places; docs/safetensors.md lists every
 * rule. Every failure returns a specific status and sets ingot_last_error() to
 * a message naming the file and the problem, e.g.
 * "model.safetensors: tensor 'w': data_offsets [0,12] hold 12 bytes but shape
 * (2,2) of F32 needs 16".
 *
 * Links: a model folder's files must stay in the folder. When
 * ingot_safetensors_open is given a directory, its model.safetensors or
 * index, and every shard, must resolve (through any chain of symbolic links,
 * as realpath(3) resolves them) to a file inside that directory's real path;
 * for an index path, each shard must resolve inside the index's directory.
 * One exception keeps the Hugging Face cache working: when the folder lies in
 * a cache snapshot, <cache>/models--ORG--NAME/snapshots/<commit>[/...] (see
 * hub.h), files may also resolve inside that repo's
 * <cache>/models--ORG--NAME/blobs. A file that leaves these fails with
 * INGOT_ERR_FORMAT (like a shard name with "..": the folder is not a valid
 * model folder) and a message naming the link, where it leads and the
 * allowed folders. The folder itself may be a link (the check uses its real
 * path), and a single file named explicitly is opened wherever its links
 * lead: the caller chose it.
 *
 * Status codes used throughout this module:
 *   INGOT_ERR_INVALID_ARGUMENT  a NULL or inconsistent argument;
 *   INGOT_ERR_IO                the OS refused an operation (the message holds
 *                               strerror);
 *   INGOT_ERR_NOT_FOUND         a file (ENOENT) or tensor that does not exist;
 *   INGOT_ERR_FORMAT            malformed content (header, JSON, offsets,
 *                               index) or a file whose links leave its
 *                               model folder (Links, above);
 *   INGOT_ERR_LIMIT             a header larger than 100,000,000 bytes (also
 *                               for an index file of that size);
 *   INGOT_ERR_UNSUPPORTED       valid content that ingot arrays cannot hold
 *                               (dtypes such as F64 or F8_E4M3, more than
 *                               INGOT_MAX_DIMS dims);
 *   INGOT_ERR_OUT_OF_MEMORY     an allocation failed.
 *
 * Byte order: tensor data is little-endian in the file and is used as is, so
 * ingot supports safetensors on little-endian hosts only.
 *
 * Thread rule: an open handle is immutable. Any number of threads may call
 * the query functions and ingot_safetensors_get on one handle at once;
 * ingot_safetensors_close must not race with them. */
#ifndef INGOT_SAFETENSORS_H
#define INGOT_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot/array.h"
#include "ingot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest header (and index file) accepted, in bytes, as in the reference
 * implementation. */
#define INGOT_SAFETENSORS_MAX_HEADER 100000000

/* An open safetensors model: one file, or the shards of an index. */
typedef struct ingot_safetensors ingot_safetensors;

/* ---- opening and closing ---- */

/* Opens `path`, which is one of:
 *  - a directory: its model.safetensors when present, otherwise its
 *    model.safetensors.index.json (the order transformers uses);
 *  - a path ending in ".json": a shard index; shard file names are resolved
 *    relative to the index's directory;
 *  - any other path: a single safetensors file.
 * Every file is mapped read-only and its header fully validated (the tensor
 * data itself is not read). For an index, the shards must hold exactly the
 * tensors of its weight_map, each tensor in the shard the map names and in no
 * other; shard names must be relative paths without ".." components, and
 * every file of a folder, and every shard, must resolve inside its folder
 * (Links, above).
 *
 * On success *out is a new handle to release with ingot_safetensors_close.
 * On error *out is NULL, nothing is mapped or leaked, and the message names
 * the offending file. Errors: INVALID_ARGUMENT (out or path NULL), NOT_FOUND
 * (a file or shard does not exist, a dangling link included, a directory
 * without either model file), IO, FORMAT (also a link leaving the folder),
 * LIMIT, OUT_OF_MEMORY. */
ingot_status ingot_safetensors_open(ingot_safetensors **out, const char *path);

/* Parses and validates a whole safetensors file image held in memory, exactly
 * as ingot_safetensors_open does for a file on disk. The nbytes bytes at data
 * are copied, so the caller may free them at once; arrays returned by
 * ingot_safetensors_get then wrap the copy. `name` labels error messages and
 * ingot_tensor_info.file (NULL: "<memory>"). data may be NULL only when
 * nbytes is 0 (which fails as too small). Errors: as ingot_safetensors_open,
 * less IO and NOT_FOUND. */
ingot_status ingot_safetensors_open_memory(ingot_safetensors **out, const void *data, size_t nbytes,
                                           const char *name);

/* Releases the handle. Arrays obtained from it stay valid: each file's
 * mapping is released when the last of them is freed. NULL is ignored. */
void ingot_safetensors_close(ingot_safetensors *st);

/* ---- tensors ---- */

/* The number of tensors (over all shards); 0 when st is NULL. */
size_t ingot_safetensors_count(const ingot_safetensors *st);

/* The name of tensor i, in increasing strcmp order of the UTF-8 names
 * (i in [0, count)); NULL when st is NULL or i is out of range. The string
 * lives as long as st. */
const char *ingot_safetensors_name(const ingot_safetensors *st, size_t i);

/* What the header says about one tensor. Every pointer lives as long as the
 * handle it came from. */
typedef struct ingot_tensor_info {
    const char *name;       /* the tensor's name */
    const char *dtype_name; /* as spelled in the file: "F32", "BF16", "F8_E4M3", ... */
    bool supported;         /* ingot_safetensors_get can return it: dtype is one of
                             * BOOL U8 I8 I32 U32 I64 F16 BF16 F32 and
                             * ndim <= INGOT_MAX_DIMS */
    ingot_dtype dtype;      /* the matching ingot dtype; INGOT_DTYPE_COUNT when the
                             * file's dtype has none */
    int ndim;               /* number of dims (may exceed INGOT_MAX_DIMS) */
    const int64_t *shape;   /* ndim dims; a valid pointer even when ndim is 0 */
    uint64_t nbytes;        /* bytes of data in the file */
    const char *file;       /* the file holding the tensor (a shard for an index) */
} ingot_tensor_info;

/* Fills *out for the tensor called name.
 * Errors: INVALID_ARGUMENT (a NULL argument), NOT_FOUND (no such tensor). */
ingot_status ingot_safetensors_info(ingot_tensor_info *out, const ingot_safetensors *st,
                                    const char *name);

/* The tensor called name as a new CPU array of its dtype and shape, which
 * wraps the mapped file bytes without copying them (read-only memory: ingot
 * arrays are immutable). The bytes are copied instead when the tensor is
 * misaligned for its dtype in the file (files written by ingot or the
 * reference implementation never are) or holds no elements. BOOL data is
 * checked to hold only 0 and 1. The array keeps the file mapped until it is
 * freed. On error *out is NULL.
 * Errors: INVALID_ARGUMENT (a NULL argument), NOT_FOUND (no such tensor),
 * UNSUPPORTED (a dtype ingot lacks, e.g. F64, or more than INGOT_MAX_DIMS
 * dims), FORMAT (a BOOL byte other than 0 or 1), OUT_OF_MEMORY. */
ingot_status ingot_safetensors_get(ingot_array **out, const ingot_safetensors *st,
                                   const char *name);

/* ---- metadata ----
 * The model's metadata is the "__metadata__" object of a single file, or the
 * "metadata" object of an index (whose numbers and booleans, such as
 * total_size, are given as their JSON text, e.g. "1234"). The shards' own
 * "__metadata__" objects are read with ingot_safetensors_file_metadata.
 * Entries are ordered by increasing strcmp order of their keys. */

/* The number of metadata entries; 0 when st is NULL. */
size_t ingot_safetensors_metadata_count(const ingot_safetensors *st);

/* Key and value of metadata entry i; NULL when st is NULL or i is out of
 * range. The strings live as long as st. */
const char *ingot_safetensors_metadata_key(const ingot_safetensors *st, size_t i);
const char *ingot_safetensors_metadata_value(const ingot_safetensors *st, size_t i);

/* The value of metadata key `key`; NULL when absent or an argument is NULL. */
const char *ingot_safetensors_metadata(const ingot_safetensors *st, const char *key);

/* ---- files ---- */

/* The number of safetensors files: 1, or the number of distinct shards of an
 * index (which may be 0 for an empty weight_map); 0 when st is NULL. */
size_t ingot_safetensors_file_count(const ingot_safetensors *st);

/* The path of file i as opened (shards: the index's directory joined with the
 * shard name), in increasing strcmp order of shard names; NULL when st is
 * NULL or i is out of range. */
const char *ingot_safetensors_file_path(const ingot_safetensors *st, size_t i);

/* The value of key in the "__metadata__" object of file i; NULL when absent,
 * i is out of range or an argument is NULL. */
const char *ingot_safetensors_file_metadata(const ingot_safetensors *st, size_t i, const char *key);

/* ---- saving ---- */

/* Writes the n arrays, called names[i], and the n_meta metadata pairs
 * (meta_keys[i], meta_values[i]) to a safetensors file at path.
 *
 * Arrays may be non-contiguous views, of any dtype and shape (0-d and empty
 * arrays included); they are written row-major in their own dtype. The layout
 * is deterministic and the reference implementation's: tensors ordered by
 * decreasing element size, then by strcmp order of names, so every tensor
 * starts aligned to its element size; the header lists "__metadata__" first
 * (only when n_meta > 0, keys in strcmp order), then the tensors in data
 * order, and is padded with spaces to a multiple of 8 bytes. Loading the file
 * gives back bit-identical arrays.
 *
 * The file is written to a temporary file in the same directory
 * ("<path>.<pid>.<n>.tmp", created with mode 0666 less the umask), flushed
 * with fsync and renamed over path, so path never holds a partly written file:
 * on error it is left as it was and the temporary file is removed.
 *
 * names and arrays may be NULL when n is 0; meta_keys and meta_values when
 * n_meta is 0. Arrays are borrowed.
 * Errors: INVALID_ARGUMENT (path NULL or empty, a NULL name, array, key or
 * value, an empty tensor name, the name "__metadata__", a name, key or value
 * that is not valid UTF-8, a repeated name or key), LIMIT (the header would
 * exceed INGOT_SAFETENSORS_MAX_HEADER), IO (with strerror, e.g. a missing
 * directory or a full disk), OUT_OF_MEMORY. */
ingot_status ingot_safetensors_save(const char *path, const char *const *names,
                                    const ingot_array *const *arrays, size_t n,
                                    const char *const *meta_keys, const char *const *meta_values,
                                    size_t n_meta);

#ifdef __cplusplus
}
#endif
#endif
