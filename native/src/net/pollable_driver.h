// Drives a Pollable from an event loop that can only watch fds for
// readability — our IoThread (machine/io_thread.h): the pollable's changing
// fd set and its deadline are kept in a private epoll set (plus a timerfd for
// the deadline), whose own fd becomes readable whenever the pollable has work.
// The I/O thread then needs exactly one watch per backend:
//
//   PollableDriver driver(backend);
//   io.watch(driver.fd(), [&driver] { driver.dispatch(); });
//
// Registrations are diffed against the previous plan, so a steady connection
// costs no epoll_ctl calls. Threading: like the pollable, I/O thread only
// (construction may happen before the thread starts).
#pragma once

#include <unordered_map>

#include "common/unique_fd.h"
#include "net/pollable.h"

namespace nestbox::net {

class PollableDriver {
 public:
  // Takes the pollable's interest listener; gives it back (empty) on
  // destruction, so it must be destroyed before `target` (and unwatched first).
  explicit PollableDriver(Pollable& target);
  ~PollableDriver();
  PollableDriver(const PollableDriver&) = delete;
  PollableDriver& operator=(const PollableDriver&) = delete;

  // Readable (level-triggered) whenever dispatch() has something to do.
  [[nodiscard]] int fd() const { return epoll_.get(); }
  // Collects what is ready without blocking, lets the pollable process it and
  // its due timers, and re-plans. Harmless when nothing is ready.
  void dispatch();
  // Re-reads the pollable's plan into the epoll set and the timerfd. The
  // interest listener calls this; dispatch() does too.
  void sync();

  // How many fds the pollable currently asks to watch (for tests and stats).
  [[nodiscard]] std::size_t watched_fd_count() const { return registered_.size(); }

 private:
  void arm_timer(const std::optional<PollClock::time_point>& deadline);

  Pollable& target_;
  UniqueFd epoll_;
  UniqueFd timer_;  // CLOCK_MONOTONIC, the clock of PollClock
  std::unordered_map<int, std::uint32_t> registered_;  // fd -> events
};

}  // namespace nestbox::net
