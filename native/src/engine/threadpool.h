// A persistent pool of worker threads for the CPU kernels. parallel_for hands out task indices through
// one atomic counter; the calling thread works too. Workers spin briefly between calls (a decode step
// issues dozens of matmuls back to back), then sleep on a futex so an idle engine costs no CPU.
// Nothing is allocated per call: the job is a function pointer plus a pointer to the caller's lambda.
//
// Results never depend on which thread ran a task, so callers that give every output a fixed task get
// deterministic results for any pool size. One parallel_for runs at a time (concurrent callers wait
// their turn); a parallel_for issued from inside a task runs inline on that thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace frspec {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n <= 0: all cores (std::thread::hardware_concurrency)
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(task, thread) for task in [0, n_tasks) across the workers and the calling thread
  // (thread is in [0, size()); the caller is 0); returns when all are done. Every task runs even if
  // one throws; the first exception is rethrown here once all have finished.
  template <class F>
  void parallel_for(int n_tasks, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run(n_tasks, [](void* ctx, int task, int thread) { (*static_cast<Fn*>(ctx))(task, thread); },
        const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
  }

 private:
  using TaskFn = void (*)(void* ctx, int task, int thread);
  void run(int n_tasks, TaskFn call, void* ctx);
  void worker_main(int thread);
  void work_on(uint32_t generation, int thread);  // claims and runs tasks of one job until none are left
  void record_exception();

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one job at a time

  // The current job. `claim` packs (generation << 32 | next task) so a worker that wakes late can never
  // claim a task of a newer job with the context of an older one.
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint64_t> claim_{0};
  std::atomic<TaskFn> call_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int> n_tasks_{0};
  std::atomic<int> done_{0};          // tasks finished in the current job
  std::atomic<int> sleepers_{0};      // workers blocked in generation_.wait
  std::atomic<bool> caller_waiting_{false};
  std::atomic<bool> stop_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace frspec
