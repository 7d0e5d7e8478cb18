#include <malloc.h>
#include "argus_kernels.h"

int argus_release_free_memory(void) { return malloc_trim(0); }

int argus_fix_mmap_threshold(size_t bytes) { return mallopt(M_MMAP_THRESHOLD, (int)bytes); }
