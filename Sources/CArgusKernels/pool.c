#define _GNU_SOURCE
#include "argus_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define ARGUS_PAUSE() _mm_pause()
#else
#define ARGUS_PAUSE() ((void)0)
#endif

// Spins before a worker sleeps: 2,000 pauses, 40-100 µs depending on the CPU's pause latency;
// longer than the gap between two layers of a pass, short enough not to hold a core that other
// work needs. A caller waiting for its job's last parts yields after as many spins, so a worker
// the scheduler has preempted gets the core back instead of being waited on at full speed.
#define ARGUS_POOL_SPINS 2000

static inline void argus_pool_wait_step(int *spins) {
    if (++*spins < ARGUS_POOL_SPINS) {
        ARGUS_PAUSE();
    } else {
        sched_yield();
    }
}

struct argus_pool {
    int32_t threads;
    pthread_mutex_t owner;      // held by the caller whose job the pool runs
    pthread_mutex_t lock;       // guards sleeping
    pthread_cond_t wake;
    _Atomic uint64_t generation; // bumped for every job
    _Atomic int64_t next;       // next part to claim
    _Atomic int64_t finished;   // parts done
    int64_t parts;
    argus_pool_task task;
    void *context;
    pthread_t *workers;
    // The last generation each worker has finished with. A job's caller waits for every worker to
    // reach its generation before returning, so no worker still reads a job's fields when the next
    // caller rewrites them.
    struct { _Atomic uint64_t generation; char pad[56]; } *acknowledged;
};

static void argus_pool_work(argus_pool *pool) {
    const int64_t parts = pool->parts;
    for (;;) {
        const int64_t part = atomic_fetch_add_explicit(&pool->next, 1, memory_order_acq_rel);
        if (part >= parts) return;
        pool->task(pool->context, part, parts);
        atomic_fetch_add_explicit(&pool->finished, 1, memory_order_acq_rel);
    }
}

typedef struct { argus_pool *pool; int32_t index; } argus_pool_start;

static void *argus_pool_worker(void *arg) {
    argus_pool_start start = *(argus_pool_start *)arg;
    free(arg);
    argus_pool *pool = start.pool;
    uint64_t seen = 0;
    for (;;) {
        uint64_t now = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int spin = 0; now == seen && spin < ARGUS_POOL_SPINS; spin++) {
            ARGUS_PAUSE();
            now = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (now == seen) {
            pthread_mutex_lock(&pool->lock);
            while ((now = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool->wake, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        seen = now;
        argus_pool_work(pool);
        atomic_store_explicit(&pool->acknowledged[start.index].generation, seen, memory_order_release);
    }
    return NULL;
}

argus_pool *argus_pool_create(int32_t threads) {
    argus_pool *pool = calloc(1, sizeof(argus_pool));
    if (!pool) return NULL;
    // No more threads than the CPUs this process may run on (taskset, cpusets).
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0 && CPU_COUNT(&allowed) < threads)
        threads = CPU_COUNT(&allowed);
    pool->threads = threads < 1 ? 1 : threads;
    pthread_mutex_init(&pool->owner, NULL);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->workers = calloc((size_t)pool->threads, sizeof(pthread_t));
    pool->acknowledged = calloc((size_t)pool->threads, sizeof(*pool->acknowledged));
    if (!pool->workers || !pool->acknowledged) { free(pool->workers); free(pool->acknowledged); free(pool); return NULL; }
    for (int32_t i = 0; i + 1 < pool->threads; i++) {
        argus_pool_start *start = malloc(sizeof(argus_pool_start));
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = start == NULL;
        if (!failed) {
            *start = (argus_pool_start){pool, i};
            failed = pthread_create(&pool->workers[i], &attr, argus_pool_worker, start);
            if (failed) free(start);
        }
        pthread_attr_destroy(&attr);
        if (failed) { pool->threads = i + 1; break; }
    }
    return pool;
}

int32_t argus_pool_threads(const argus_pool *pool) { return pool ? pool->threads : 1; }

void argus_pool_run(argus_pool *pool, argus_pool_task task, void *context, int64_t parts) {
    if (parts <= 0) return;
    if (!pool || pool->threads <= 1 || parts == 1 || pthread_mutex_trylock(&pool->owner) != 0) {
        for (int64_t part = 0; part < parts; part++) task(context, part, parts);
        return;
    }
    pool->task = task;
    pool->context = context;
    pool->parts = parts;
    atomic_store_explicit(&pool->finished, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool->lock);
    const uint64_t generation = atomic_fetch_add_explicit(&pool->generation, 1, memory_order_acq_rel) + 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    argus_pool_work(pool);
    int spins = 0;
    while (atomic_load_explicit(&pool->finished, memory_order_acquire) < parts) argus_pool_wait_step(&spins);
    for (int32_t i = 0; i + 1 < pool->threads; i++) {
        while (atomic_load_explicit(&pool->acknowledged[i].generation, memory_order_acquire) < generation)
            argus_pool_wait_step(&spins);
    }
    pthread_mutex_unlock(&pool->owner);
}
