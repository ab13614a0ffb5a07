/* pool.c — the thread pool: static (ith, nth) dispatch to spin-then-sleep
 * workers, the caller working as thread 0.
 *
 * Decode calls hycrt_parallel_for a few hundred times per token, each time
 * for a few microseconds of work, so a dispatch must cost far less than
 * that.  The design keeps one dispatch to a handful of cache-line transfers:
 *
 *   - the job (fn, arg, n_tasks) sits on the same cache line as the
 *     generation counter `gen`; the caller writes the job, then bumps gen
 *     (release).  A worker that sees gen change (acquire) has the job in the
 *     line it just pulled in;
 *   - every worker then runs its static block of tasks and decrements
 *     `pending` (release); the caller runs block 0 itself, then spins until
 *     pending is 0 (acquire).  No locks on this path;
 *   - an idle worker spins on gen for spin_ns (default 200 us: longer than
 *     the serial gaps between the kernels of one token), then sleeps on a
 *     condition variable.  The caller takes the mutex only when a worker
 *     sleeps (n_sleeping > 0), so the hot path never touches it.
 *
 * Lost wake-ups: a worker increments n_sleeping and then re-reads gen, the
 * caller bumps gen and then reads n_sleeping, all seq_cst; so at least one
 * of them sees the other's write.  If the caller sees 0 sleepers, the worker
 * sees the new gen and doesn't wait; otherwise the caller broadcasts under
 * the mutex, which the worker holds from its check until it waits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

/* The caller spins this many times on `pending` before it starts yielding
 * its core: with more threads than cores a worker may need the caller's
 * core to finish. */
#define WAIT_SPINS_BEFORE_YIELD 20000u

#define MAX_THREADS 1024

typedef struct Worker {
    hycrt_pool *pool;
    int ith;
    pthread_t tid;
} Worker;

struct hycrt_pool {
    /* Line 0, written once per dispatch by the caller, read by workers. */
    _Alignas(64) _Atomic uint64_t gen;
    hycrt_task_fn fn;
    void *arg;
    int n_tasks;
    /* Line 1: workers count down here when their block is done. */
    _Alignas(64) _Atomic int pending;
    /* Line 2: sleeping and shutting down; touched off the hot path. */
    _Alignas(64) _Atomic int n_sleeping;
    _Atomic bool quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Line 3: set once; `busy` is taken by the dispatching thread. */
    _Alignas(64) atomic_flag busy;
    _Atomic uint64_t spin_ns;
    int n_threads;
    int n_started; /* workers running: n_threads - 1 once set up */
    Worker *workers; /* [n_threads]: workers[0] is unused (the caller) */
};

int hycrt_cpu_count(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
}

/* Runs thread `ith`'s block of the current job. */
static void run_block(hycrt_pool *pool, int ith)
{
    hycrt_task_fn fn = pool->fn;
    void *arg = pool->arg;
    int n = pool->n_tasks;
    int64_t lo, hi;
    hycrt_split(n, ith, pool->n_threads, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        fn(arg, (int)i, n);
}

/* Returns the first generation != seen: spinning for spin_ns, then asleep. */
static uint64_t wait_for_gen(hycrt_pool *pool, uint64_t seen)
{
    uint64_t g;
    uint64_t spin_ns = atomic_load_explicit(&pool->spin_ns, memory_order_relaxed);
    if (spin_ns > 0) {
        uint64_t t0 = 0;
        for (unsigned i = 1;; i++) {
            g = atomic_load_explicit(&pool->gen, memory_order_acquire);
            if (g != seen)
                return g;
            cpu_relax();
            /* Read the clock only now and then: it costs ~20 ns. */
            if ((i & 63) == 0) {
                uint64_t now = hycrt_now_ns();
                if (t0 == 0)
                    t0 = now;
                else if (now - t0 >= spin_ns)
                    break;
            }
        }
    }
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add(&pool->n_sleeping, 1);
    while ((g = atomic_load(&pool->gen)) == seen)
        pthread_cond_wait(&pool->cv, &pool->mu);
    atomic_fetch_sub(&pool->n_sleeping, 1);
    pthread_mutex_unlock(&pool->mu);
    return g;
}

static void *worker_main(void *p)
{
    Worker *w = p;
    hycrt_pool *pool = w->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_for_gen(pool, seen);
        if (atomic_load_explicit(&pool->quit, memory_order_relaxed))
            break;
        run_block(pool, w->ith);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
    return NULL;
}

/* Publishes a new generation and wakes sleeping workers. */
static void bump_gen(hycrt_pool *pool)
{
    atomic_fetch_add(&pool->gen, 1);
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->cv);
        pthread_mutex_unlock(&pool->mu);
    }
}

static void stop_workers(hycrt_pool *pool)
{
    if (pool->n_started == 0)
        return;
    atomic_store_explicit(&pool->quit, true, memory_order_relaxed);
    bump_gen(pool);
    for (int i = 1; i <= pool->n_started; i++)
        pthread_join(pool->workers[i].tid, NULL);
    pool->n_started = 0;
}

hycrt_pool *hycrt_pool_new(int n_threads)
{
    if (n_threads <= 0)
        n_threads = hycrt_cpu_count();
    if (n_threads > MAX_THREADS)
        n_threads = MAX_THREADS;
    hycrt_pool *pool = rt_alloc_aligned(sizeof *pool);
    if (!pool)
        return NULL;
    memset(pool, 0, sizeof *pool);
    atomic_init(&pool->gen, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->quit, false);
    atomic_flag_clear(&pool->busy);
    atomic_init(&pool->spin_ns, HYCRT_POOL_SPIN_NS);
    pool->n_threads = n_threads;
    if (n_threads == 1)
        return pool;

    pool->workers = calloc((size_t)n_threads, sizeof *pool->workers);
    if (!pool->workers || pthread_mutex_init(&pool->mu, NULL) != 0) {
        free(pool->workers);
        free(pool);
        return NULL;
    }
    if (pthread_cond_init(&pool->cv, NULL) != 0) {
        pthread_mutex_destroy(&pool->mu);
        free(pool->workers);
        free(pool);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        Worker *w = &pool->workers[i];
        w->pool = pool;
        w->ith = i;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            hycrt_pool_free(pool);
            return NULL;
        }
        pool->n_started = i;
    }
    return pool;
}

void hycrt_pool_free(hycrt_pool *pool)
{
    if (!pool)
        return;
    if (pool->n_threads > 1) {
        stop_workers(pool);
        pthread_cond_destroy(&pool->cv);
        pthread_mutex_destroy(&pool->mu);
    }
    free(pool->workers);
    free(pool);
}

int hycrt_pool_threads(const hycrt_pool *pool)
{
    return pool ? pool->n_threads : 1;
}

void hycrt_pool_set_spin(hycrt_pool *pool, uint64_t spin_ns)
{
    if (pool)
        atomic_store_explicit(&pool->spin_ns, spin_ns, memory_order_relaxed);
}

void hycrt_parallel_for(hycrt_pool *pool, int n_tasks, hycrt_task_fn fn,
                        void *arg)
{
    if (n_tasks <= 0)
        return;
    /* Inline: no pool, one thread, one task (block 0 is the caller's anyway,
     * so this keeps the static assignment), or the pool is busy with another
     * dispatch (a nested call from a task, or a second thread). */
    if (!pool || pool->n_threads == 1 || n_tasks == 1 ||
        atomic_flag_test_and_set_explicit(&pool->busy, memory_order_acquire)) {
        for (int i = 0; i < n_tasks; i++)
            fn(arg, i, n_tasks);
        return;
    }

    pool->fn = fn;
    pool->arg = arg;
    pool->n_tasks = n_tasks;
    atomic_store_explicit(&pool->pending, pool->n_threads - 1, memory_order_relaxed);
    bump_gen(pool); /* seq_cst: also releases the job and `pending` */

    run_block(pool, 0);

    for (unsigned i = 0; atomic_load_explicit(&pool->pending, memory_order_acquire) != 0; i++) {
        if (i < WAIT_SPINS_BEFORE_YIELD)
            cpu_relax();
        else
            sched_yield();
    }
    atomic_flag_clear_explicit(&pool->busy, memory_order_release);
}
