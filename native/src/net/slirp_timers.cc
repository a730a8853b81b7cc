#include "net/slirp_timers.h"

#include <algorithm>

namespace nestbox::net {

void* SlirpTimers::create(int id, void* cb_opaque) {
  timers_.push_back(std::make_unique<Timer>(Timer{id, cb_opaque, std::nullopt}));
  return timers_.back().get();
}

SlirpTimers::Timer* SlirpTimers::find(void* handle) {
  const auto found = std::find_if(timers_.begin(), timers_.end(),
                                  [handle](const auto& timer) { return timer.get() == handle; });
  return found == timers_.end() ? nullptr : found->get();
}

void SlirpTimers::destroy(void* handle) {
  std::erase_if(timers_, [handle](const auto& timer) { return timer.get() == handle; });
}

void SlirpTimers::modify(void* handle, std::int64_t expire_ms) {
  if (Timer* timer = find(handle)) {
    timer->expire_ms = expire_ms;
  }
}

std::optional<std::int64_t> SlirpTimers::next_expiry_ms() const {
  std::optional<std::int64_t> next;
  for (const auto& timer : timers_) {
    if (timer->expire_ms && (!next || *timer->expire_ms < *next)) {
      next = timer->expire_ms;
    }
  }
  return next;
}

void SlirpTimers::run_due(std::int64_t now_ms, const Fire& fire) {
  // Collect first: callbacks change the table under us.
  std::vector<void*> due;
  for (const auto& timer : timers_) {
    if (timer->expire_ms && *timer->expire_ms <= now_ms) {
      due.push_back(timer.get());
    }
  }
  for (void* handle : due) {
    Timer* timer = find(handle);  // an earlier callback may have destroyed it
    if (timer == nullptr || !timer->expire_ms || *timer->expire_ms > now_ms) {
      continue;
    }
    timer->expire_ms.reset();
    fire(timer->id, timer->cb_opaque);
  }
}

}  // namespace nestbox::net
