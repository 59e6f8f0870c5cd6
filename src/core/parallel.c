/* The CPU thread pool behind ingot__parallel_for.
 *
 * A job is a range [0, n) cut into chunks; the caller and nthreads-1 workers
 * take chunks from an atomic counter until none are left, and the caller
 * returns once every worker has acknowledged the job. One job runs at a
 * time: a second caller (another user thread) or a nested call runs inline. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/internal.h"

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* workers wait here for a new generation */
    pthread_cond_t done;      /* the caller waits here for every worker */
    pthread_mutex_t job;      /* held by the caller running a job */
    pthread_t *workers;
    int nworkers;
    uint64_t generation;      /* bumped for each job and for shutdown */
    bool stop;
    /* the current job */
    ingot__range_fn fn;
    void *ctx;
    int64_t n, chunk, nchunks;
    atomic_llong next;        /* next chunk to take */
    int acked;                /* workers done with this generation */
} pool;

static pool the_pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .job = PTHREAD_MUTEX_INITIALIZER,
};
static int num_threads; /* 0 until first use */
static _Thread_local bool in_job;

static void run_chunks(pool *p) {
    int64_t c;
    in_job = true;
    while ((c = atomic_fetch_add(&p->next, 1)) < p->nchunks) {
        int64_t begin = c * p->chunk, end = begin + p->chunk < p->n ? begin + p->chunk : p->n;
        p->fn(p->ctx, begin, end);
    }
    in_job = false;
}

static void *worker_main(void *arg) {
    pool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_chunks(p);
        pthread_mutex_lock(&p->mu);
        /* Every worker acknowledges every job, so none can linger in a job
         * that has already returned. */
        if (++p->acked == p->nworkers) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void stop_workers(pool *p) {
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) pthread_join(p->workers[i], NULL);
    free(p->workers);
    p->workers = NULL;
    p->nworkers = 0;
    p->stop = false;
}

/* Starts n-1 workers; on failure runs with as many as started. */
static void start_workers(pool *p, int n) {
    p->workers = calloc((size_t)(n > 1 ? n - 1 : 1), sizeof *p->workers);
    if (!p->workers) return;
    for (int i = 0; i < n - 1; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) break;
        p->nworkers++;
    }
}

/* The processors this process may run on (as nproc counts them: taskset and
 * cpusets included), else the online ones. */
static int default_threads(void) {
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                         : sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < 256 ? n : 256) : 1;
}

void ingot_set_num_threads(int n) {
    if (n <= 0) n = default_threads();
    if (n > 256) n = 256;
    pthread_mutex_lock(&the_pool.job);
    stop_workers(&the_pool);
    num_threads = n;
    start_workers(&the_pool, n);
    pthread_mutex_unlock(&the_pool.job);
}

int ingot_get_num_threads(void) {
    if (!num_threads) ingot_set_num_threads(0);
    return num_threads;
}

void ingot__parallel_for(int64_t n, int64_t grain, ingot__range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int threads = ingot_get_num_threads();
    pool *p = &the_pool;
    if (threads == 1 || n <= grain || in_job || pthread_mutex_trylock(&p->job) != 0) {
        fn(ctx, 0, n);
        return;
    }
    if (p->nworkers == 0) { /* workers could not be started */
        pthread_mutex_unlock(&p->job);
        fn(ctx, 0, n);
        return;
    }
    /* About 4 chunks per thread for balance, none smaller than grain. */
    int64_t chunks = (int64_t)(p->nworkers + 1) * 4, chunk = (n + chunks - 1) / chunks;
    if (chunk < grain) chunk = grain;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    p->nchunks = (n + chunk - 1) / chunk;
    atomic_store(&p->next, 0);
    p->acked = 0;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_chunks(p);

    pthread_mutex_lock(&p->mu);
    while (p->acked < p->nworkers) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->job);
}
