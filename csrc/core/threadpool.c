// threadpool.c — a persistent pthread pool: n-1 workers plus the calling thread run the tasks
// of one xt_threadpool_run call.
//
// A decoded token is ~150 short runs (a few matmuls per layer), so the hand-off must cost
// far less than a futex wake-up: between runs workers spin on the run word for a while
// (SPIN_NS; not at all when the pool has more threads than the machine has CPUs) and only
// then sleep on a condition variable, and the caller spins (then yields) until the last task
// is done. Idle pools therefore burn no CPU after SPIN_NS.
//
// The run word packs (generation << 32 | tasks left). Workers claim a task by a CAS that
// keeps the generation: a worker that is late for a finished run sees another generation
// and claims nothing, so no task of a new run ever executes with the previous run's fn/ctx.
// fn/ctx/n_tasks are read only after a successful claim: the run cannot end (and the caller
// cannot rewrite them) while a claimed task is unfinished.
#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"

// How long an idle worker keeps spinning before it sleeps. Long enough to bridge the
// single-threaded work between the runs of one forward (norms, RoPE, the next quantization).
enum { SPIN_NS = 200 * 1000 };
// Bound of one run (the word's low 32 bits).
#define MAX_TASKS_PER_RUN INT64_C(0xffffffff)

struct xt_threadpool {
    int n_threads;             // workers + the caller
    int64_t spin_ns;           // SPIN_NS, or 0 when there are more threads than CPUs
    pthread_t *workers;        // (n_threads - 1)
    _Atomic uint64_t run;      // generation << 32 | tasks not yet claimed
    atomic_int_fast64_t done;  // tasks of the current run finished
    atomic_int sleepers;       // workers blocked (or about to block) on `wake`
    atomic_bool shutdown;
    // The current run; written by the caller before it publishes the generation.
    _Atomic(xt_task_fn) fn;
    _Atomic(void *) ctx;
    atomic_int_fast64_t n_tasks;
    pthread_mutex_t mutex;     // only for sleeping and waking
    pthread_cond_t wake;
};

static uint32_t generation_of(uint64_t word) { return (uint32_t)(word >> 32); }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// ---- running tasks ----

// Claims and runs tasks of generation `gen` until none is left (or the run is over).
static void run_tasks(xt_threadpool *p, uint32_t gen) {
    uint64_t w = atomic_load_explicit(&p->run, memory_order_acquire);
    for (;;) {
        if (generation_of(w) != gen || (uint32_t)w == 0) return;
        if (!atomic_compare_exchange_weak_explicit(&p->run, &w, w - 1, memory_order_acq_rel,
                                                   memory_order_acquire)) {
            continue;  // w now holds the current word
        }
        int64_t n = atomic_load_explicit(&p->n_tasks, memory_order_relaxed);
        int64_t task = n - (int64_t)(uint32_t)w;  // tasks go out in order 0, 1, ...
        xt_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        fn(task, n, atomic_load_explicit(&p->ctx, memory_order_relaxed));
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        w = atomic_load_explicit(&p->run, memory_order_acquire);
    }
}

// Waits until the run word carries a generation other than `seen`; false on shutdown.
static bool wait_for_run(xt_threadpool *p, uint32_t seen) {
    int64_t deadline = 0;
    for (unsigned spins = 0;; spins++) {
        if (atomic_load_explicit(&p->shutdown, memory_order_acquire)) return false;
        if (generation_of(atomic_load_explicit(&p->run, memory_order_acquire)) != seen) {
            return true;
        }
        XT_CPU_RELAX();
        if ((spins & 63) != 63) continue;
        int64_t t = now_ns();
        if (deadline == 0) deadline = t + p->spin_ns;
        if (t < deadline) continue;
        // Sleep. sleepers is raised before the last look at the word (both seq_cst), and the
        // caller publishes before it reads sleepers: one of the two sees the other.
        pthread_mutex_lock(&p->mutex);
        atomic_fetch_add(&p->sleepers, 1);
        while (!atomic_load(&p->shutdown) && generation_of(atomic_load(&p->run)) == seen) {
            pthread_cond_wait(&p->wake, &p->mutex);
        }
        atomic_fetch_sub(&p->sleepers, 1);
        pthread_mutex_unlock(&p->mutex);
        deadline = 0;
    }
}

static void *worker_main(void *arg) {
    xt_threadpool *p = arg;
    uint32_t seen = 0;
    while (wait_for_run(p, seen)) {
        seen = generation_of(atomic_load_explicit(&p->run, memory_order_acquire));
        run_tasks(p, seen);
    }
    return NULL;
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
    // More threads than CPUs: a spinning worker would hold the CPU a busy one needs.
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->spin_ns = cpus > 0 && n_threads > cpus ? 0 : SPIN_NS;
    atomic_init(&p->run, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->shutdown, false);
    atomic_init(&p->fn, NULL);
    atomic_init(&p->ctx, NULL);
    atomic_init(&p->n_tasks, 0);
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
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

static void wake_sleepers(xt_threadpool *p) {
    if (atomic_load(&p->sleepers) == 0) return;
    pthread_mutex_lock(&p->mutex);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
}

void xt_threadpool_free(xt_threadpool *p) {
    if (p == NULL) return;
    atomic_store(&p->shutdown, true);
    pthread_mutex_lock(&p->mutex);  // a worker between its check and its wait holds it
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    if (p->workers) {
        for (int i = 0; i < p->n_threads - 1; i++) pthread_join(p->workers[i], NULL);
    }
    pthread_cond_destroy(&p->wake);
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
    XT_RETURN_IF(n_tasks > MAX_TASKS_PER_RUN, XT_ERR_INVALID_ARG,
                 "thread pool run: %" PRId64 " tasks (at most %" PRId64 ")", n_tasks,
                 MAX_TASKS_PER_RUN);
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->n_tasks, n_tasks, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint32_t gen = generation_of(atomic_load_explicit(&p->run, memory_order_relaxed)) + 1;
    atomic_store(&p->run, (uint64_t)gen << 32 | (uint64_t)n_tasks);  // seq_cst: wait_for_run
    wake_sleepers(p);

    run_tasks(p, gen);

    // Every task is claimed; wait for the ones still running on workers (at most one each).
    // Yield after a while in case a worker was descheduled mid-task.
    for (unsigned spins = 0; atomic_load_explicit(&p->done, memory_order_acquire) < n_tasks;
         spins++) {
        if (spins < 4096) {
            XT_CPU_RELAX();
        } else {
            sched_yield();
        }
    }
    return XT_OK;
}
