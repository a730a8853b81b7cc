// The timers libslirp asks its host for (today only IPv6 router
// advertisements), kept in our own table so the I/O loop can ask for the next
// deadline instead of giving each timer an fd. libslirp sees each timer as an
// opaque pointer; expiry times are milliseconds on the backend's clock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace nestbox::net {

class SlirpTimers {
 public:
  // What to run when a timer is due: for libslirp, slirp_handle_timer(id, opaque).
  using Fire = std::function<void(int id, void* cb_opaque)>;

  // Returns the handle libslirp keeps. Unarmed until modify().
  void* create(int id, void* cb_opaque);
  // Ignores handles it does not own (never dereferences them).
  void destroy(void* handle);
  void modify(void* handle, std::int64_t expire_ms);

  [[nodiscard]] std::optional<std::int64_t> next_expiry_ms() const;
  // Fires every timer due at `now_ms`, each once, disarming it first (libslirp
  // re-arms from inside the callback). A callback may create, modify or
  // destroy timers, itself included.
  void run_due(std::int64_t now_ms, const Fire& fire);

  [[nodiscard]] std::size_t size() const { return timers_.size(); }

 private:
  struct Timer {
    int id;
    void* cb_opaque;
    std::optional<std::int64_t> expire_ms;
  };
  Timer* find(void* handle);

  std::vector<std::unique_ptr<Timer>> timers_;
};

}  // namespace nestbox::net
