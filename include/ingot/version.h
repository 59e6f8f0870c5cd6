/* ingot/version.h - the version of the headers and of the linked library. */
#ifndef INGOT_VERSION_H
#define INGOT_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define INGOT_VERSION_MAJOR 0
#define INGOT_VERSION_MINOR 1
#define INGOT_VERSION_PATCH 0
#define INGOT_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, comparable with ingot_version_number(). */
#define INGOT_VERSION_NUMBER \
    (INGOT_VERSION_MAJOR * 10000 + INGOT_VERSION_MINOR * 100 + INGOT_VERSION_PATCH)

/* The linked library's version string, e.g. "0.1.0". Static; never NULL. */
const char *ingot_version(void);

/* The linked library's INGOT_VERSION_NUMBER. A caller compiled against other
 * headers can compare the two to detect a mismatch. */
int ingot_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
