/* Library-internal pieces shared by the engine's files. Not installed. */
#ifndef INGOT_ENGINE_INTERNAL_H
#define INGOT_ENGINE_INTERNAL_H

#include "ingot/engine.h"

#endif
