/* No asynchronous signal is handled on a thread while oneDNN's kernels run on it.
 *
 * oneDNN 2.6's JIT GEMM keeps data below the stack pointer, beyond the 128-byte red zone that a
 * signal handler's frame leaves alone: a signal handled on such a thread's stack overwrites it,
 * and the heap is corrupted (glibc aborts later in free()). Reproduced outside Node, in C:
 * dnnl_sgemm in a loop under a 10 kHz SIGPROF timer aborts within seconds, and not when the
 * handler runs on an alternate stack or the signal is blocked during the call. In Node the
 * signals are V8's profiler (`node --cpu-prof`), Ctrl-C, a terminal resize, a child's exit.
 *
 * So the OpenMP threads (ours, OpenBLAS's and oneDNN's: one libgomp pool) block them for good,
 * and the calling thread for the duration of each call that can reach oneDNN; a signal that
 * arrives meanwhile is pending and handled as the call returns. Faults raised by the thread
 * itself (SIGSEGV and the like) cannot be blocked usefully and are not. */
#include <pthread.h>
#include <signal.h>

#include <omp.h>

#include "kernels.h"

static void asynchronous_signals(sigset_t *set) {
  sigfillset(set);
  const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
  for (unsigned i = 0; i < sizeof faults / sizeof faults[0]; i++) sigdelset(set, faults[i]);
}

void native_signals_hold(sigset_t *saved) {
  sigset_t set;
  asynchronous_signals(&set);
  pthread_sigmask(SIG_BLOCK, &set, saved);
}

void native_signals_release(const sigset_t *saved) { pthread_sigmask(SIG_SETMASK, saved, NULL); }

void native_signals_block_workers(void) {
  sigset_t set, saved;
  asynchronous_signals(&set);
  /* Threads the team creates now start with the creating thread's mask, held here; those it
     already had block them themselves. */
  pthread_sigmask(SIG_BLOCK, &set, &saved);
#pragma omp parallel
  {
    if (omp_get_thread_num() != 0) pthread_sigmask(SIG_BLOCK, &set, NULL);
  }
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
}
