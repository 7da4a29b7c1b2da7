/* One scratch buffer for the kernels that need working memory per call (winograd.c, image_conv.c):
   kept and grown, never shrunk, so a training step's calls allocate nothing. Calls come from one
   JavaScript thread and never overlap, so they can share it. */
#include <stdlib.h>

#include "kernels.h"

static float *scratch = NULL;
static size_t scratch_bytes = 0;

float *native_scratch(size_t bytes) {
  if (bytes > scratch_bytes) {
    free(scratch);
    scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
    scratch_bytes = scratch != NULL ? bytes : 0;
  }
  return scratch;
}
