#include <malloc.h>
#include "argus_kernels.h"

int argus_release_free_memory(void) { return malloc_trim(0); }
