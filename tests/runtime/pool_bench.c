/* pool_bench.c — the cost of one hycrt_parallel_for dispatch.
 *
 *   make build/tests/pool_bench && build/tests/pool_bench [THREADS...]
 *
 * For each thread count: the mean time of a dispatch of one empty task per
 * thread (pure overhead: the wake-up and the join), over many back-to-back
 * dispatches (workers spinning, as in decode), and then with spinning off
 * and a 1 ms pause before each dispatch (workers asleep: the wake-up latency
 * of the sleep path).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/hycrt.h"

static void empty_task(void *arg, int ith, int nth)
{
    (void)arg, (void)ith, (void)nth;
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    static const int fallback[] = {1, 2};
    int n_counts = argc > 1 ? argc - 1 : 2;
    printf("cpus: %d\n", hycrt_cpu_count());
    printf("%8s %16s %16s\n", "threads", "hot ns/dispatch", "cold ns/dispatch");
    for (int k = 0; k < n_counts; k++) {
        int threads = argc > 1 ? atoi(argv[k + 1]) : fallback[k];
        hycrt_pool *pool = hycrt_pool_new(threads);
        if (!pool)
            return 1;
        int n = hycrt_pool_threads(pool);
        enum { WARM = 10000, HOT = 200000, COLD = 200 };
        for (int i = 0; i < WARM; i++)
            hycrt_parallel_for(pool, n, empty_task, NULL);
        /* Best of 5 rounds: the machine's noise only ever adds time. */
        double hot = 1e30;
        for (int round = 0; round < 5; round++) {
            uint64_t t0 = hycrt_now_ns();
            for (int i = 0; i < HOT; i++)
                hycrt_parallel_for(pool, n, empty_task, NULL);
            double ns = (double)(hycrt_now_ns() - t0) / HOT;
            if (ns < hot)
                hot = ns;
        }
        uint64_t cold = 0;
        hycrt_pool_set_spin(pool, 0);
        for (int i = 0; i < COLD; i++) {
            pause_ms(1);
            uint64_t t0 = hycrt_now_ns();
            hycrt_parallel_for(pool, n, empty_task, NULL);
            cold += hycrt_now_ns() - t0;
        }
        printf("%8d %16.1f %16.1f\n", n, hot, (double)cold / COLD);
        fflush(stdout);
        hycrt_pool_free(pool);
    }
    return 0;
}
