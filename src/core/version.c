/* Library version. */
#include "ingot/version.h"

const char *ingot_version(void) { return INGOT_VERSION_STRING; }

int ingot_version_number(void) { return INGOT_VERSION_NUMBER; }
