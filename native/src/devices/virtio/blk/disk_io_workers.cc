#include "devices/virtio/blk/disk_io_workers.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

namespace nestbox::virtio::blk {

struct DiskIoWorkers::Shared {
  mutable std::mutex mutex;
  std::condition_variable work_ready;  // workers wait for tasks or stop
  std::condition_variable changed;     // cancel() and drain() wait for counters
  std::deque<Task> queue;
  std::size_t doing_io = 0;
  std::size_t pending = 0;  // queued + doing I/O + completing
  bool stopping = false;
};

DiskIoWorkers::DiskIoWorkers(unsigned threads) : shared_(std::make_shared<Shared>()) {
  threads_.reserve(threads);
  try {
    for (unsigned i = 0; i < threads; ++i) {
      threads_.emplace_back([shared = shared_] { run(shared); });
    }
  } catch (...) {
    // Thread creation failed part-way: stop and join those that started, so
    // no std::thread is destroyed joinable.
    {
      const std::lock_guard lock(shared_->mutex);
      shared_->stopping = true;
    }
    shared_->work_ready.notify_all();
    for (std::thread& thread : threads_) thread.join();
    throw;
  }
}

DiskIoWorkers::~DiskIoWorkers() {
  std::deque<Task> dropped;
  {
    const std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    shared_->pending -= shared_->queue.size();
    dropped.swap(shared_->queue);
  }
  shared_->work_ready.notify_all();
  shared_->changed.notify_all();
  dropped.clear();  // outside the lock: a task's captures may do anything on destruction
  for (std::thread& thread : threads_) {
    if (thread.get_id() == std::this_thread::get_id()) {
      // Destroyed from our own completion: this thread returns into run(),
      // which only touches `Shared` (kept alive by its own reference).
      thread.detach();
    } else {
      thread.join();
    }
  }
}

void DiskIoWorkers::run(const std::shared_ptr<Shared>& shared) {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(shared->mutex);
      shared->work_ready.wait(lock, [&] { return shared->stopping || !shared->queue.empty(); });
      if (shared->stopping) return;
      task = std::move(shared->queue.front());
      shared->queue.pop_front();
      ++shared->doing_io;
    }
    Completion completion;
    try {
      completion = task();
    } catch (...) {
      // Tasks report their own failures; this only keeps the thread (and the
      // counters cancel() waits on) alive if one breaks that contract.
    }
    task = nullptr;
    {
      const std::lock_guard lock(shared->mutex);
      --shared->doing_io;
    }
    shared->changed.notify_all();
    if (completion) {
      try {
        completion();
      } catch (...) {
        // Same contract as above.
      }
      completion = nullptr;
    }
    {
      const std::lock_guard lock(shared->mutex);
      --shared->pending;
    }
    shared->changed.notify_all();
  }
}

void DiskIoWorkers::submit(Task task) {
  {
    const std::lock_guard lock(shared_->mutex);
    if (shared_->stopping) return;
    shared_->queue.push_back(std::move(task));
    ++shared_->pending;
  }
  shared_->work_ready.notify_one();
}

std::size_t DiskIoWorkers::cancel() {
  std::deque<Task> dropped;
  {
    std::unique_lock lock(shared_->mutex);
    dropped.swap(shared_->queue);
    shared_->pending -= dropped.size();
    shared_->changed.wait(lock, [&] { return shared_->doing_io == 0; });
  }
  // drain() may be waiting for the tasks we just dropped.
  shared_->changed.notify_all();
  const std::size_t count = dropped.size();
  dropped.clear();
  return count;
}

void DiskIoWorkers::drain() {
  std::unique_lock lock(shared_->mutex);
  shared_->changed.wait(lock, [&] { return shared_->pending == 0; });
}

std::size_t DiskIoWorkers::pending() const {
  const std::lock_guard lock(shared_->mutex);
  return shared_->pending;
}

}  // namespace nestbox::virtio::blk
