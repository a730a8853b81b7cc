// The contract between an I/O event loop and a source of host I/O that it
// drives (a network backend today; anything that owns host sockets later).
// It exists because libslirp does not own a thread or an fd set: it wants to
// be asked, before every wait, which sockets to watch and for how long to
// sleep, and to be told, after the wait, what became ready. The contract has
// exactly that shape, so ONE I/O thread drives every backend:
//
//   for (;;) {
//     PollPlan plan = pollable.prepare_poll();          // fds + deadline
//     wait on plan.fds until plan.deadline (poll, or an epoll set kept in sync)
//     pollable.process(ready subset of plan.fds, now); // also runs due timers
//   }
//
// The fd set changes between plans (sockets open and close; an fd asks for
// "writable" only while it has data queued), so it must be re-read after every
// process() — and after anything else that feeds the pollable (a guest frame
// may open a socket), which is what the interest listener announces.
// PollableDriver (pollable_driver.h) turns this into one fd for IoThread::watch.
//
// Threading: every call, on the one I/O thread (or before it starts).
#pragma once

#include <poll.h>
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace nestbox::net {

using PollClock = std::chrono::steady_clock;

// Event bits: poll(2)'s, which on Linux are also epoll's (checked below), so a
// plan can go to either without translation.
namespace poll_event {
inline constexpr std::uint32_t readable = POLLIN;
inline constexpr std::uint32_t urgent = POLLPRI;
inline constexpr std::uint32_t writable = POLLOUT;
inline constexpr std::uint32_t error = POLLERR;
inline constexpr std::uint32_t hangup = POLLHUP;
}  // namespace poll_event
static_assert(POLLIN == EPOLLIN && POLLPRI == EPOLLPRI && POLLOUT == EPOLLOUT &&
              POLLERR == EPOLLERR && POLLHUP == EPOLLHUP);

struct PollRequest {
  int fd;
  std::uint32_t events;  // poll_event bits
};

struct PollReady {
  int fd;
  std::uint32_t revents;  // poll_event bits; error/hangup may come unasked
};

struct PollPlan {
  std::vector<PollRequest> fds;  // at most one entry per fd
  // When process() must run even if no fd is ready; nullopt: no deadline.
  std::optional<PollClock::time_point> deadline;
};

class Pollable {
 public:
  virtual ~Pollable() = default;

  // What to watch until the next process(). Replaces every earlier plan.
  virtual PollPlan prepare_poll() = 0;
  // After a wait on the latest plan: `ready` holds its fds that became ready
  // (possibly none, when the deadline passed). Runs the I/O and every timer
  // due at `now`. Ready entries for fds not in the latest plan are ignored.
  virtual void process(std::span<const PollReady> ready, PollClock::time_point now) = 0;
  // Called (on the I/O thread, never from inside process()) when the plan may
  // have changed for a reason the loop cannot see — e.g. a guest frame made
  // the backend open a socket. The loop must call prepare_poll() again before
  // it next waits. One listener; an empty function removes it.
  virtual void set_interest_listener(std::function<void()> listener) = 0;
};

}  // namespace nestbox::net
