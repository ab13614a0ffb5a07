/* pool.c — the thread pool: static (ith, nth) dispatch to spin-then-sleep
 * workers, the caller working as thread 0.
 *
 * Decode calls hycrt_parallel_for a few hundred times per token, each time
 * for a few microseconds of work, so a dispatch must cost far less than
 * that.  One dispatch is a handful of cache-line transfers, no locks and no
 * system calls while the workers are awake:
 *
 *   - the job (fn, arg, n_tasks) sits on the same cache line as the
 *     generation counter `gen`; the caller writes the job, then bumps gen
 *     (release).  A worker that sees gen change (acquire) finds the job in
 *     the line it just pulled in;
 *   - each worker runs its static block of tasks, then stores gen into its
 *     own `done` word (release), on its own cache line: no counter that
 *     every worker must take in turn (with 16 threads a shared atomic
 *     counter cost ~100 ns per worker);
 *   - the caller runs block 0 itself, then polls every `done` word in one
 *     pass (independent loads, whose misses overlap) until all equal gen;
 *   - an idle worker spins on gen for spin_ns (default 1 ms: longer than
 *     the serial gaps between the kernels of one token and the sampling
 *     between tokens), then sleeps: on a futex on gen (Linux: one syscall
 *     wakes all, and no mutex for the woken to queue on), elsewhere on a
 *     condition variable.  The caller makes that syscall only when a worker
 *     sleeps (n_sleeping > 0).
 *
 * Lost wake-ups: a worker increments n_sleeping and then re-reads gen, the
 * caller bumps gen and then reads n_sleeping, all seq_cst; so at least one
 * of them sees the other's write.  If the caller sees no sleeper, the
 * worker sees the new gen and doesn't wait.  Otherwise the caller wakes; the
 * futex wait returns at once if gen moved before it (the kernel compares),
 * and the condvar waiter holds the mutex from its check until it waits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, syscall */
#endif
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#define USE_FUTEX 1
#endif

#include "internal.h"

/* Helgrind and DRD know locks, not C11 atomics: to them every hand-off
 * through gen and the done words looks like a race.  Built with
 * -DHYCRT_VALGRIND (and valgrind's headers), the hand-offs are annotated so
 * that those tools check the rest; otherwise the annotations are nothing. */
#ifdef HYCRT_VALGRIND
#include <valgrind/helgrind.h>
#define HAPPENS_BEFORE(p) ANNOTATE_HAPPENS_BEFORE(p)
#define HAPPENS_AFTER(p) ANNOTATE_HAPPENS_AFTER(p)
#define ATOMIC_VAR(p) ANNOTATE_BENIGN_RACE_SIZED(p, sizeof *(p), "C11 atomic")
#else
#define HAPPENS_BEFORE(p) ((void)0)
#define HAPPENS_AFTER(p) ((void)0)
#define ATOMIC_VAR(p) ((void)0)
#endif

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

/* The caller spins this many times on the done words before it starts
 * yielding its core: with more threads than cores a worker may need the
 * caller's core to finish. */
#define WAIT_SPINS_BEFORE_YIELD 20000u

#define MAX_THREADS 1024

typedef struct Worker {
    _Alignas(64) _Atomic uint32_t done; /* the last gen this worker finished */
    hycrt_pool *pool;
    int ith;
    pthread_t tid;
} Worker;

struct hycrt_pool {
    /* Line 0, written once per dispatch by the caller, read by workers.
     * gen is 32 bits for the futex; only equality is ever tested, so its
     * wrapping around is harmless. */
    _Alignas(64) _Atomic uint32_t gen;
    int n_tasks;
    hycrt_task_fn fn;
    void *arg;
    /* Line 1: sleeping and shutting down; touched off the hot path. */
    _Alignas(64) _Atomic int n_sleeping;
    _Atomic bool quit;
#ifndef USE_FUTEX
    pthread_mutex_t mu;
    pthread_cond_t cv;
#endif
    /* Line 2: set once; `busy` is taken by the dispatching thread. */
    _Alignas(64) atomic_flag busy;
    _Atomic uint64_t spin_ns;
    int n_threads;
    int n_started; /* workers running */
    Worker *workers; /* [n_threads], 64-aligned: workers[0] is unused (the
                      * caller) */
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
    return n > 0 ? (int)n : 1;
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

static void sleep_on_gen(hycrt_pool *pool, uint32_t seen)
{
#ifdef USE_FUTEX
    atomic_fetch_add(&pool->n_sleeping, 1);
    while (atomic_load(&pool->gen) == seen)
        syscall(SYS_futex, (uint32_t *)&pool->gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
    atomic_fetch_sub(&pool->n_sleeping, 1);
#else
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add(&pool->n_sleeping, 1);
    while (atomic_load(&pool->gen) == seen)
        pthread_cond_wait(&pool->cv, &pool->mu);
    atomic_fetch_sub(&pool->n_sleeping, 1);
    pthread_mutex_unlock(&pool->mu);
#endif
}

/* Returns the first generation != seen: spinning for spin_ns, then asleep. */
static uint32_t wait_for_gen(hycrt_pool *pool, uint32_t seen)
{
    uint32_t g;
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
    for (;;) {
        sleep_on_gen(pool, seen);
        /* seq_cst load in sleep_on_gen saw the change: acquire it again
         * for the job fields. */
        g = atomic_load_explicit(&pool->gen, memory_order_acquire);
        if (g != seen)
            return g;
    }
}

static void *worker_main(void *p)
{
    Worker *w = p;
    hycrt_pool *pool = w->pool;
    uint32_t seen = 0;
    for (;;) {
        seen = wait_for_gen(pool, seen);
        HAPPENS_AFTER(&pool->gen);
        if (atomic_load_explicit(&pool->quit, memory_order_relaxed))
            break;
        run_block(pool, w->ith);
        HAPPENS_BEFORE(&w->done);
        atomic_store_explicit(&w->done, seen, memory_order_release);
    }
    return NULL;
}

/* Publishes a new generation and wakes sleeping workers. */
static uint32_t bump_gen(hycrt_pool *pool)
{
    HAPPENS_BEFORE(&pool->gen);
    uint32_t g = atomic_fetch_add(&pool->gen, 1) + 1;
    if (atomic_load(&pool->n_sleeping) > 0) {
#ifdef USE_FUTEX
        syscall(SYS_futex, (uint32_t *)&pool->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->cv);
        pthread_mutex_unlock(&pool->mu);
#endif
    }
    return g;
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

static void free_pool(hycrt_pool *pool)
{
#ifndef USE_FUTEX
    if (pool->n_threads > 1) {
        pthread_cond_destroy(&pool->cv);
        pthread_mutex_destroy(&pool->mu);
    }
#endif
    free(pool->workers);
    free(pool);
}

hycrt_pool *hycrt_pool_new(int n_threads)
{
    int cpus = hycrt_cpu_count();
    if (n_threads <= 0)
        n_threads = cpus;
    if (n_threads > MAX_THREADS)
        n_threads = MAX_THREADS;
    hycrt_pool *pool = rt_alloc_aligned(sizeof *pool);
    if (!pool)
        return NULL;
    memset(pool, 0, sizeof *pool);
    atomic_init(&pool->gen, 0);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->quit, false);
    atomic_flag_clear(&pool->busy);
    /* More threads than CPUs: a spinning worker would hold a core that
     * another worker needs to finish the same dispatch, so sleep at once. */
    atomic_init(&pool->spin_ns, n_threads > cpus ? 0 : HYCRT_POOL_SPIN_NS);
    pool->n_threads = n_threads;
    ATOMIC_VAR(&pool->gen);
    ATOMIC_VAR(&pool->n_sleeping);
    ATOMIC_VAR(&pool->quit);
    ATOMIC_VAR(&pool->busy);
    ATOMIC_VAR(&pool->spin_ns);
    if (n_threads == 1)
        return pool;

    pool->workers = rt_alloc_aligned((size_t)n_threads * sizeof *pool->workers);
    if (!pool->workers) {
        free(pool);
        return NULL;
    }
    memset(pool->workers, 0, (size_t)n_threads * sizeof *pool->workers);
#ifndef USE_FUTEX
    if (pthread_mutex_init(&pool->mu, NULL) != 0) {
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
#endif
    for (int i = 1; i < n_threads; i++) {
        Worker *w = &pool->workers[i];
        atomic_init(&w->done, 0);
        ATOMIC_VAR(&w->done);
        w->pool = pool;
        w->ith = i;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            stop_workers(pool);
            free_pool(pool);
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
    stop_workers(pool);
    free_pool(pool);
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
    uint32_t g = bump_gen(pool); /* seq_cst: also releases the job */

    run_block(pool, 0);

    /* All done words in one pass per round: the loads are independent, so
     * their cache misses overlap instead of queueing. */
    Worker *w = pool->workers;
    int n = pool->n_threads;
    for (unsigned spins = 0;; spins++) {
        int pending = 0;
        for (int i = 1; i < n; i++)
            pending += atomic_load_explicit(&w[i].done, memory_order_acquire) != g;
        if (pending == 0) {
            for (int i = 1; i < n; i++)
                HAPPENS_AFTER(&w[i].done);
            break;
        }
        if (spins < WAIT_SPINS_BEFORE_YIELD)
            cpu_relax();
        else
            sched_yield();
    }
    atomic_flag_clear_explicit(&pool->busy, memory_order_release);
}
