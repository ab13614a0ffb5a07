/* pool.c — the thread pool: static (ith, nth) dispatch to spin-then-sleep
 * workers, the caller working as thread 0.
 *
 * Decode calls hycrt_parallel_for a few hundred times per token, each time
 * for a few microseconds of work, so a dispatch must cost far less than
 * that.  One dispatch is a handful of cache-line transfers, no locks and no
 * system calls while the workers are awake:
 *
 *   - the job (fn, arg, n_tasks) sits on the same cache line as the
 *     generation counter `gen`; the caller writes the job, then the ticket
 *     (below), then bumps gen (release).  A worker that sees gen change
 *     (acquire) goes for a task;
 *   - tasks are claimed, not assigned: `ticket` holds (gen << 32 | tasks not
 *     yet claimed) and every thread, the caller included, takes the next
 *     task by a compare-and-swap that counts it down, runs it, and adds one
 *     to `n_done`.  The caller returns when n_done reaches n_tasks.  So a
 *     worker that the OS has descheduled (a loaded machine, more threads than
 *     free cores) costs nothing: the threads that run take its tasks, and the
 *     caller never waits for a thread that claimed none.  With static blocks
 *     the caller waited milliseconds for such a worker on every dispatch (2-
 *     thread decode fell to 0.5 tokens/s at load 15).  Which thread runs a
 *     task does not change any result: a task writes its own outputs, in its
 *     own order;
 *   - a worker that saw generation g claims only while the ticket still says
 *     g, and reads the job only after a claim succeeded: the dispatch cannot
 *     end (nor the next job be written) while one of its tasks is out;
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
 * through gen, the ticket and n_done looks like a race.  Built with
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

/* The caller spins this many times on n_done before it starts yielding its
 * core: with more threads than cores a worker may need the caller's core to
 * finish the task it claimed. */
#define WAIT_SPINS_BEFORE_YIELD 20000u

#define MAX_THREADS 1024

typedef struct Worker {
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
    /* Line 1: claimed by compare-and-swap, gen << 32 | tasks not yet claimed. */
    _Alignas(64) _Atomic uint64_t ticket;
    /* Line 2: tasks of the current dispatch finished. */
    _Alignas(64) _Atomic int n_done;
    /* Line 3: sleeping and shutting down; touched off the hot path. */
    _Alignas(64) _Atomic int n_sleeping;
    _Atomic bool quit;
#ifndef USE_FUTEX
    pthread_mutex_t mu;
    pthread_cond_t cv;
#endif
    /* Line 4: set once; `busy` is taken by the dispatching thread. */
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

/* Claims and runs tasks of generation g until none is left to claim (or
 * the pool has moved on to another generation: then g's tasks are all done). */
static void run_tasks(hycrt_pool *pool, uint32_t g)
{
    uint64_t t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(t >> 32) != g || (uint32_t)t == 0)
            return;
        if (!atomic_compare_exchange_weak_explicit(&pool->ticket, &t, t - 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* t now holds the current ticket */
        HAPPENS_AFTER(&pool->ticket);
        /* The job is stable while this task is out (see the top). */
        int n = pool->n_tasks;
        pool->fn(pool->arg, n - (int)(uint32_t)t, n);
        HAPPENS_BEFORE(&pool->n_done);
        atomic_fetch_add_explicit(&pool->n_done, 1, memory_order_release);
        t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
    }
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
        run_tasks(pool, seen);
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
    atomic_init(&pool->ticket, 0);
    atomic_init(&pool->n_done, 0);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->quit, false);
    atomic_flag_clear(&pool->busy);
    /* More threads than CPUs: a spinning worker would hold a core that
     * another worker needs to finish the same dispatch, so sleep at once. */
    atomic_init(&pool->spin_ns, n_threads > cpus ? 0 : HYCRT_POOL_SPIN_NS);
    pool->n_threads = n_threads;
    ATOMIC_VAR(&pool->gen);
    ATOMIC_VAR(&pool->ticket);
    ATOMIC_VAR(&pool->n_done);
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
    /* Inline: no pool, one thread, one task, or the pool is busy with
     * another dispatch (a nested call from a task, or a second thread). */
    if (!pool || pool->n_threads == 1 || n_tasks == 1 ||
        atomic_flag_test_and_set_explicit(&pool->busy, memory_order_acquire)) {
        for (int i = 0; i < n_tasks; i++)
            fn(arg, i, n_tasks);
        return;
    }

    pool->fn = fn;
    pool->arg = arg;
    pool->n_tasks = n_tasks;
    atomic_store_explicit(&pool->n_done, 0, memory_order_relaxed);
    /* The ticket of the generation bump_gen is about to publish; stored
     * (release) after the job, so a claim that succeeds sees the job. */
    uint32_t g = atomic_load_explicit(&pool->gen, memory_order_relaxed) + 1;
    HAPPENS_BEFORE(&pool->ticket);
    atomic_store_explicit(&pool->ticket, (uint64_t)g << 32 | (uint32_t)n_tasks, memory_order_release);
    bump_gen(pool); /* seq_cst; only this thread bumps gen while busy */

    run_tasks(pool, g);

    for (unsigned spins = 0; atomic_load_explicit(&pool->n_done, memory_order_acquire) != n_tasks; spins++) {
        if (spins < WAIT_SPINS_BEFORE_YIELD)
            cpu_relax();
        else
            sched_yield();
    }
    HAPPENS_AFTER(&pool->n_done);
    atomic_flag_clear_explicit(&pool->busy, memory_order_release);
}
