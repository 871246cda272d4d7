// ThreadPool (threadpool.h). One job at a time: the caller publishes (call, ctx, n_tasks), bumps
// `generation_` and wakes sleepers; everyone claims task indices from `claim_` until they run out.
// A worker only claims through a compare-exchange that also checks the job's generation. Before the
// caller rewrites (call, ctx, n_tasks) it closes the claim counter for the new generation (release
// stores, acquire loads), so a worker that woke late and read a half-published job fails its claim
// instead of running a task with the wrong context. The caller returns once `done_` counts every task,
// i.e. no task of the job is still running and ctx may die.
#include "engine/threadpool.h"

#include "engine/atomic_wait.h"

#include <algorithm>

// A spin-wait hint (x86 `pause`, arm64 `yield`): lets the other hyperthread run and saves power while a
// worker polls for the next job. Compiler builtins / inline asm, so no intrinsic header outside the kernels.
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#define FRSPEC_CPU_RELAX() _mm_pause()
#elif defined(__x86_64__) || defined(__i386__)
#define FRSPEC_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__) || defined(__arm__)
#define FRSPEC_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define FRSPEC_CPU_RELAX() ((void)0)
#endif

namespace frspec {

namespace {
thread_local bool t_inside_task = false;  // a nested parallel_for runs inline
// A decode step issues matmuls a few microseconds apart; spinning that long keeps workers awake for
// the next one without a futex round trip, and is short enough not to steal a shared machine's cores.
constexpr int kSpinIterations = 1 << 12;
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = int(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  workers_.reserve(size_t(n_threads - 1));
  for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this, t] { worker_main(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  atomic_notify_all(generation_);
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::record_exception() {
  std::lock_guard<std::mutex> lock(error_mutex_);
  if (!error_) error_ = std::current_exception();
}

void ThreadPool::work_on(uint32_t gen, int thread) {
  const uint32_t n = uint32_t(n_tasks_.load(std::memory_order_acquire));
  const TaskFn call = call_.load(std::memory_order_acquire);
  void* const ctx = ctx_.load(std::memory_order_acquire);
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (uint32_t(c >> 32) != gen || uint32_t(c) >= n) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    const int task = int(uint32_t(c));
    t_inside_task = true;
    try {
      call(ctx, task, thread);
    } catch (...) {
      record_exception();
    }
    t_inside_task = false;
    // seq_cst on both sides: either this sees caller_waiting_ or the caller sees the final count.
    if (uint32_t(done_.fetch_add(1) + 1) == n && caller_waiting_.load()) atomic_notify_one(done_);
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker_main(int thread) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      FRSPEC_CPU_RELAX();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      sleepers_.fetch_add(1);  // seq_cst, paired with the caller's generation bump then sleepers_ load
      atomic_wait(generation_, seen);
      sleepers_.fetch_sub(1);
      continue;
    }
    seen = gen;
    if (stop_.load()) return;
    work_on(gen, thread);
  }
}

void ThreadPool::run(int n_tasks, TaskFn call, void* ctx) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1 || t_inside_task) {
    // Inline, with the same contract as below: every task runs, the first exception is rethrown.
    std::exception_ptr first;
    for (int t = 0; t < n_tasks; ++t) {
      try {
        call(ctx, t, 0);
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    if (first) std::rethrow_exception(first);
    return;
  }
  std::lock_guard<std::mutex> lock(run_mutex_);
  error_ = nullptr;
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store(uint64_t(gen) << 32 | 0xffffffffu);  // closed while the job is written
  call_.store(call, std::memory_order_release);
  ctx_.store(ctx, std::memory_order_release);
  n_tasks_.store(n_tasks, std::memory_order_release);
  done_.store(0);
  claim_.store(uint64_t(gen) << 32, std::memory_order_release);
  generation_.store(gen);  // seq_cst: publishes the job
  if (sleepers_.load() > 0) atomic_notify_all(generation_);

  work_on(gen, 0);
  // Every task is claimed; wait for those still running on workers.
  int d = done_.load(std::memory_order_acquire);
  for (int spin = 0; d < n_tasks && spin < kSpinIterations; ++spin) {
    FRSPEC_CPU_RELAX();
    d = done_.load(std::memory_order_acquire);
  }
  if (d < n_tasks) {
    caller_waiting_.store(true);
    while ((d = done_.load()) < n_tasks) atomic_wait(done_, d);
    caller_waiting_.store(false);
  }
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

}  // namespace frspec
