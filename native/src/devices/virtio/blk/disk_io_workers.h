// A small pool of threads that runs disk requests off the vCPU and I/O
// threads, in two phases per task:
//
//   1. I/O: the task reads and writes guest memory and the disk image, and
//      returns its completion. cancel() waits for this phase to end.
//   2. Completion: publishes the result (virtio-blk: under the transport lock,
//      through run_locked). Nothing waits for this phase but drain(), because
//      the thread that calls cancel() may hold the very lock a completion is
//      waiting for.
//
// Lifetime: the threads keep the pool's queue and counters alive themselves,
// so the pool may be destroyed from one of its own threads during a
// completion (the transport's last reference can be dropped there); that
// thread is detached instead of joined and finds the pool stopping.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace nestbox::virtio::blk {

class DiskIoWorkers {
 public:
  // Runs after the I/O phase; may block (e.g. on the transport lock).
  using Completion = std::function<void()>;
  // The I/O phase. Must not throw (an exception is swallowed and the task's
  // completion is lost); may return an empty completion.
  using Task = std::function<Completion()>;

  explicit DiskIoWorkers(unsigned threads);
  // Drops queued tasks, waits for running ones (both phases) and joins.
  ~DiskIoWorkers();
  DiskIoWorkers(const DiskIoWorkers&) = delete;
  DiskIoWorkers& operator=(const DiskIoWorkers&) = delete;

  void submit(Task task);
  // Drops every queued task and waits until no task is in its I/O phase.
  // Returns how many were dropped. Safe while holding a lock completions
  // take; must not be called from a task's I/O phase.
  std::size_t cancel();
  // Waits until no task is queued, in its I/O phase or completing. Must not
  // be called from a worker, nor holding a lock completions take.
  void drain();

  // Queued + doing I/O + completing (for tests and diagnostics).
  [[nodiscard]] std::size_t pending() const;

 private:
  struct Shared;
  static void run(const std::shared_ptr<Shared>& shared);

  std::shared_ptr<Shared> shared_;
  std::vector<std::thread> threads_;
};

}  // namespace nestbox::virtio::blk
