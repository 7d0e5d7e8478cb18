// A small pool of worker threads for splitting one kernel call across cores (a batch-1 network
// pass: one job per layer, back to back). Workers spin briefly between jobs before sleeping, so
// the next layer's job starts in about a microsecond instead of a thread wake-up; a job that
// arrives while another caller holds the pool runs on the caller's thread alone (concurrent
// passes already use the cores; that caller adds one thread, the pool none). At most one thread
// per CPU the process may run on.
#ifndef ARGUS_POOL_H
#define ARGUS_POOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct argus_pool argus_pool;
typedef void (*argus_pool_task)(void *context, int64_t part, int64_t parts);

/// A pool of `threads` - 1 workers (the caller is the last thread). NULL if threads cannot start.
argus_pool *argus_pool_create(int32_t threads);
/// Threads a job runs on (workers + the caller).
int32_t argus_pool_threads(const argus_pool *pool);
/// Runs task(context, part, parts) for every part in [0, parts), returning when all are done.
/// Parts are claimed dynamically by the caller and the workers.
void argus_pool_run(argus_pool *pool, argus_pool_task task, void *context, int64_t parts);

#ifdef __cplusplus
}
#endif

#endif
