/* toy_main.c — the main() that hyc's C backend generates for an executable,
 * here for the toy_sum model.  Built with -std=c11 -pedantic and without
 * _GNU_SOURCE, which checks that runtime/hycrt.h stands on its own. */
#include "tests/runtime/toy_model.h"

int main(int argc, char **argv)
{
    return hycrt_main(argc, argv, &toy_sum_desc);
}
