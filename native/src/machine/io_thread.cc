#include "machine/io_thread.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/nestbox_error.h"

namespace nestbox {

namespace {

[[noreturn]] void fail(const char* operation) {
  throw NestboxError(ErrorCode::KvmFailure,
                     std::string("I/O thread: ") + operation + " failed: " + std::strerror(errno));
}

std::uint64_t read_counter(int fd) {
  std::uint64_t value = 0;
  for (;;) {
    const ssize_t result = ::read(fd, &value, sizeof value);
    if (result == static_cast<ssize_t>(sizeof value)) {
      return value;
    }
    if (result < 0 && errno == EINTR) {
      continue;
    }
    return 0;  // EAGAIN: nothing pending
  }
}

}  // namespace

IoThread::IoThread()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wakeup_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!epoll_.valid() || !wakeup_.valid()) {
    fail("creating the event loop");
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = wakeup_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wakeup_.get(), &event) != 0) {
    fail("epoll_ctl");
  }
}

IoThread::~IoThread() { stop(); }

void IoThread::start() {
  thread_ = std::thread([this] { loop(); });
}

void IoThread::stop() {
  {
    const std::lock_guard lock(tasks_mutex_);
    if (stopped_) {
      return;
    }
    stopping_ = true;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wakeup_.get(), &one, sizeof one);
  if (thread_.joinable()) {
    thread_.join();
  }
  const std::lock_guard lock(tasks_mutex_);
  stopped_ = true;
  tasks_.clear();
}

void IoThread::post(Handler task) {
  {
    const std::lock_guard lock(tasks_mutex_);
    if (stopped_) {
      return;
    }
    tasks_.push_back(std::move(task));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wakeup_.get(), &one, sizeof one);
}

void IoThread::watch(int fd, Handler handler) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    fail("epoll_ctl (add)");
  }
  handlers_[fd] = std::move(handler);
}

void IoThread::unwatch(int fd) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

void IoThread::run_posted_tasks() {
  std::vector<Handler> tasks;
  {
    const std::lock_guard lock(tasks_mutex_);
    tasks.swap(tasks_);
  }
  for (Handler& task : tasks) {
    task();
  }
}

void IoThread::loop() {
  std::array<epoll_event, 16> events{};
  for (;;) {
    const int count = ::epoll_wait(epoll_.get(), events.data(), events.size(), -1);
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    bool woken = false;
    for (int i = 0; i < count; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == wakeup_.get()) {
        read_counter(fd);
        woken = true;
        continue;
      }
      // Copy: the handler may unwatch itself.
      if (const auto found = handlers_.find(fd); found != handlers_.end()) {
        Handler handler = found->second;
        handler();
      }
    }
    if (woken) {
      run_posted_tasks();
      const std::lock_guard lock(tasks_mutex_);
      if (stopping_ && tasks_.empty()) {
        return;
      }
    }
  }
}

IoTimer::IoTimer() : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
  if (!fd_.valid()) {
    fail("timerfd_create");
  }
}

void IoTimer::arm(std::uint64_t delay_ns, std::uint64_t period_ns) const {
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(delay_ns / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(delay_ns % 1'000'000'000);
  spec.it_interval.tv_sec = static_cast<time_t>(period_ns / 1'000'000'000);
  spec.it_interval.tv_nsec = static_cast<long>(period_ns % 1'000'000'000);
  if (::timerfd_settime(fd_.get(), 0, &spec, nullptr) != 0) {
    fail("timerfd_settime");
  }
}

std::uint64_t IoTimer::consume() const { return read_counter(fd_.get()); }

EventFd::EventFd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!fd_.valid()) {
    fail("eventfd");
  }
}

void EventFd::signal() const {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(fd_.get(), &one, sizeof one);
}

std::uint64_t EventFd::consume() const { return read_counter(fd_.get()); }

}  // namespace nestbox
