// threadpool.c — a persistent pthread pool: n-1 workers plus the calling thread run the tasks
// of one xt_threadpool_run call, then the workers sleep until the next generation.
#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/status.h"

struct xt_threadpool {
    int n_threads;            // workers + the caller
    pthread_t *workers;       // (n_threads - 1)
    pthread_mutex_t mutex;
    pthread_cond_t wake;      // signalled when a new generation starts or on shutdown
    pthread_cond_t done;      // signalled when the last task of a generation finishes
    uint64_t generation;      // guarded by mutex
    bool shutdown;            // guarded by mutex
    // Current run (written under mutex before the generation bump).
    xt_task_fn fn;
    void *ctx;
    int64_t n_tasks;
    atomic_int_fast64_t next_task;
    int active;               // workers inside run_tasks (guarded by mutex); a new run waits
                              // for 0 so no worker can take a stale counter into the next run
};

// ---- running tasks ----

static void run_tasks(xt_threadpool *p, xt_task_fn fn, void *ctx, int64_t n_tasks) {
    for (;;) {
        int64_t t = atomic_fetch_add(&p->next_task, 1);
        if (t >= n_tasks) break;
        fn(t, n_tasks, ctx);
    }
}

static void *worker_main(void *arg) {
    xt_threadpool *p = arg;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mutex);
        while (!p->shutdown && p->generation == seen) pthread_cond_wait(&p->wake, &p->mutex);
        if (p->shutdown) {
            pthread_mutex_unlock(&p->mutex);
            return NULL;
        }
        seen = p->generation;
        xt_task_fn fn = p->fn;
        void *ctx = p->ctx;
        int64_t n_tasks = p->n_tasks;
        p->active++;
        pthread_mutex_unlock(&p->mutex);

        run_tasks(p, fn, ctx, n_tasks);

        pthread_mutex_lock(&p->mutex);
        if (--p->active == 0) pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->mutex);
    }
}

// ---- lifecycle ----

xt_status xt_threadpool_new(int n_threads, xt_threadpool **out) {
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    XT_RETURN_IF(n_threads > 1024, XT_ERR_INVALID_ARG,
                 "thread count %d is out of range (1 to 1024)", n_threads);
    xt_threadpool *p = calloc(1, sizeof *p);
    XT_RETURN_IF(p == NULL, XT_ERR_NOMEM, "out of memory creating a thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (p->workers == NULL) {
            xt_threadpool_free(p);
            return xt_error(XT_ERR_NOMEM, "out of memory creating a thread pool");
        }
    }
    for (int i = 0; i < n_threads - 1; i++) {
        int rc = pthread_create(&p->workers[i], NULL, worker_main, p);
        if (rc != 0) {
            p->n_threads = i + 1;  // only i workers exist; free joins those
            xt_threadpool_free(p);
            return xt_error_errno(rc, "cannot start thread pool worker %d", i);
        }
    }
    *out = p;
    return XT_OK;
}

void xt_threadpool_free(xt_threadpool *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->mutex);
    p->shutdown = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    if (p->workers) {
        for (int i = 0; i < p->n_threads - 1; i++) pthread_join(p->workers[i], NULL);
    }
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mutex);
    free(p->workers);
    free(p);
}

int xt_threadpool_size(const xt_threadpool *p) { return p->n_threads; }

xt_status xt_threadpool_run(xt_threadpool *p, xt_task_fn fn, void *ctx, int64_t n_tasks) {
    XT_RETURN_IF(p == NULL || fn == NULL, XT_ERR_INVALID_ARG, "thread pool run: NULL argument");
    XT_RETURN_IF(n_tasks < 0, XT_ERR_INVALID_ARG, "negative task count %" PRId64, n_tasks);
    if (n_tasks == 0) return XT_OK;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++) fn(t, n_tasks, ctx);
        return XT_OK;
    }
    pthread_mutex_lock(&p->mutex);
    // A worker that woke late for the previous run may still hold its fn/ctx: let it leave
    // before the counter is reset, or it would run stale tasks (see `active` above).
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mutex);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);

    run_tasks(p, fn, ctx, n_tasks);

    // All tasks are handed out once the caller's loop ends; wait for the workers still in one.
    pthread_mutex_lock(&p->mutex);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mutex);
    pthread_mutex_unlock(&p->mutex);
    return XT_OK;
}
