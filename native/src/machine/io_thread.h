// The machine's one I/O thread: an epoll loop that runs device timers,
// watches eventfds (resample, ioeventfd, later disk and network completions)
// and executes tasks posted from other threads — including the machine's own
// lifecycle work (stopping and joining vCPU threads, rebooting), which a vCPU
// thread cannot do for itself. Never one thread per device.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace nestbox {

class IoThread {
 public:
  using Handler = std::function<void()>;

  IoThread();
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  void start();
  // Runs the tasks already posted, then ends the loop and joins it. Idempotent;
  // never from the I/O thread itself.
  void stop();

  // Runs `task` on the I/O thread soon, in posting order. Thread-safe. Tasks
  // posted after stop() are dropped.
  void post(Handler task);
  // Calls `handler` on the I/O thread whenever `fd` is readable (the handler
  // must drain it). From the I/O thread, or before start().
  void watch(int fd, Handler handler);
  void unwatch(int fd);

  [[nodiscard]] bool on_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void loop();
  void run_posted_tasks();

  UniqueFd epoll_;
  UniqueFd wakeup_;  // eventfd: tasks were posted, or stop
  std::map<int, Handler> handlers_;
  std::mutex tasks_mutex_;
  std::vector<Handler> tasks_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

// A timerfd that fires once at a deadline or periodically, for IoThread::watch.
class IoTimer {
 public:
  IoTimer();
  // Arms it `delay_ns` from now, repeating every `period_ns` (0: once). 0 delay disarms.
  void arm(std::uint64_t delay_ns, std::uint64_t period_ns = 0) const;
  // Reads the expiry count (call from the handler).
  std::uint64_t consume() const;
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

// An eventfd: a counter other threads (or KVM) signal, for IoThread::watch.
class EventFd {
 public:
  EventFd();
  void signal() const;
  std::uint64_t consume() const;
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace nestbox
