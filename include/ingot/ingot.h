/* ingot/ingot.h - the whole public API. */
#ifndef INGOT_H
#define INGOT_H

#include "ingot/status.h"
#include "ingot/version.h"
#include "ingot/device.h"
#include "ingot/array.h"
#include "ingot/ops.h"
#include "ingot/random.h"
#include "ingot/fast.h"
#include "ingot/autograd.h"
#include "ingot/safetensors.h"
#include "ingot/hub.h"
#include "ingot/tokenizer.h"
#include "ingot/chat.h"
#include "ingot/model.h"
#include "ingot/engine.h"

#endif
