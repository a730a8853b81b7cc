#include "net/pollable_driver.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "net/net_error.h"

namespace nestbox::net {

namespace {

static_assert(std::is_same_v<PollClock, std::chrono::steady_clock>,
              "the timerfd below uses CLOCK_MONOTONIC, which is steady_clock on Linux");

[[noreturn]] void fail(const char* operation) {
  throw NetError(NetErrorKind::BackendFailed,
                 std::string("network event loop: ") + operation + " failed: " + std::strerror(errno));
}

}  // namespace

PollableDriver::PollableDriver(Pollable& target)
    : target_(target),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
  if (!epoll_.valid() || !timer_.valid()) {
    fail("creating the epoll set");
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = timer_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &event) != 0) {
    fail("epoll_ctl (timer)");
  }
  target_.set_interest_listener([this] { sync(); });
  sync();
}

PollableDriver::~PollableDriver() { target_.set_interest_listener({}); }

void PollableDriver::arm_timer(const std::optional<PollClock::time_point>& deadline) {
  itimerspec spec{};  // all zero: disarmed
  if (deadline) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch()).count();
    // Zero would disarm; a deadline at the clock's epoch is long past anyway.
    const long long when = ns > 0 ? ns : 1;
    spec.it_value.tv_sec = static_cast<time_t>(when / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(when % 1'000'000'000);
  }
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    fail("timerfd_settime");
  }
}

void PollableDriver::sync() {
  const PollPlan plan = target_.prepare_poll();
  std::unordered_map<int, std::uint32_t> wanted;
  wanted.reserve(plan.fds.size());
  for (const PollRequest& request : plan.fds) {
    wanted[request.fd] |= request.events;
  }
  for (auto it = registered_.begin(); it != registered_.end();) {
    if (!wanted.contains(it->first)) {
      // ENOENT/EBADF: the pollable already closed it, which removed it.
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
      it = registered_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [fd, events] : wanted) {
    const auto found = registered_.find(fd);
    if (found != registered_.end() && found->second == events) {
      continue;
    }
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    // The fd number may be a new socket reusing a closed one's number (which
    // left the set when closed): fall back between MOD and ADD.
    int result = ::epoll_ctl(epoll_.get(), found == registered_.end() ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
                             fd, &event);
    if (result != 0 && errno == ENOENT) {
      result = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event);
    } else if (result != 0 && errno == EEXIST) {
      result = ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event);
    }
    if (result != 0) {
      fail("epoll_ctl");
    }
    registered_[fd] = events;
  }
  arm_timer(plan.deadline);
}

void PollableDriver::dispatch() {
  // Room for every registered fd and the timer, so one non-blocking call sees
  // all of them (repeating the call would return level-triggered fds twice).
  std::vector<epoll_event> events(registered_.size() + 1);
  int count = 0;
  do {
    count = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 0);
  } while (count < 0 && errno == EINTR);
  if (count < 0) {
    fail("epoll_wait");
  }
  std::vector<PollReady> ready;
  ready.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const epoll_event& event = events[static_cast<std::size_t>(i)];
    if (event.data.fd == timer_.get()) {
      std::uint64_t expirations = 0;
      [[maybe_unused]] const ssize_t got = ::read(timer_.get(), &expirations, sizeof expirations);
      continue;
    }
    ready.push_back({event.data.fd, event.events});
  }
  target_.process(ready, PollClock::now());
  sync();
}

}  // namespace nestbox::net
