// Carries machine events from vCPU threads to the JS `onEvent` callback
// through a ThreadSafeFunction. Never blocks a vCPU: calls are non-blocking
// into an unbounded queue. Serial bytes are coalesced: while one delivery is
// queued, further bytes join it, so a chatty guest costs one JS call per batch
// rather than one per byte. Display damage likewise: while one delivery is
// queued, later ticks' rectangles join it, so a busy JS thread gets fewer,
// larger updates instead of a growing backlog.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "machine/machine_events.h"

namespace nestbox::binding {

// Serial bytes waiting for the JS thread. Shared by the forwarder and queued
// deliveries, so it outlives whichever finishes last.
class PendingSerialOutput {
 public:
  // Returns true when the buffer was empty, i.e. a delivery must be queued.
  bool append(std::span<const std::uint8_t> bytes);
  std::vector<std::uint8_t> take();

 private:
  std::mutex mutex_;
  std::vector<std::uint8_t> bytes_;
};

// Display damage waiting for the JS thread, in the mode it was computed in.
class PendingDisplayDamage {
 public:
  // More rectangles than this collapse to their bounding box.
  static constexpr std::size_t kMaxRects = 64;
  // Returns true when nothing was pending, i.e. a delivery must be queued.
  bool append(const display::DisplayMode& mode, std::span<const display::DirtyRect> rects);
  // The pending damage (nullopt when an earlier delivery already took it).
  std::optional<std::pair<display::DisplayMode, std::vector<display::DirtyRect>>> take();

 private:
  std::mutex mutex_;
  std::optional<display::DisplayMode> mode_;
  std::vector<display::DirtyRect> rects_;
};

struct SerialDelivery {
  std::shared_ptr<PendingSerialOutput> pending;
};
struct StateDelivery {
  MachineState state;
  std::string reason;
};
struct ErrorDelivery {
  MachineErrorReport report;
};
struct ResetDelivery {
  ResetCause cause;
  bool reboot;
};
struct LogDelivery {
  std::string message;
};
struct DisplayModeDelivery {
  std::optional<display::DisplayMode> mode;
};
struct DisplayDamageDelivery {
  std::shared_ptr<PendingDisplayDamage> pending;
};
using EventDelivery = std::variant<SerialDelivery, StateDelivery, ErrorDelivery, ResetDelivery,
                                   LogDelivery, DisplayModeDelivery, DisplayDamageDelivery>;

// {width, height, bitsPerPixel} or null.
Napi::Value display_mode_value(Napi::Env env, const std::optional<display::DisplayMode>& mode);

void deliver_event_to_js(Napi::Env env, Napi::Function on_event, std::nullptr_t* context,
                         EventDelivery* delivery);

using EventFunction = Napi::TypedThreadSafeFunction<std::nullptr_t, EventDelivery,
                                                    deliver_event_to_js>;

class JsEventForwarder : public MachineEventSink {
 public:
  JsEventForwarder(Napi::Env env, Napi::Function on_event);
  ~JsEventForwarder() override;
  JsEventForwarder(const JsEventForwarder&) = delete;
  JsEventForwarder& operator=(const JsEventForwarder&) = delete;

  void on_serial_output(std::span<const std::uint8_t> bytes) override;
  void on_state_changed(MachineState state, std::string_view reason) override;
  void on_reset(ResetCause cause, bool reboot) override;
  void on_error(const MachineErrorReport& report) override;
  void on_log(std::string_view message) override;
  void on_display_mode(const std::optional<display::DisplayMode>& mode) override;
  void on_display_damage(const display::DisplayMode& mode,
                         std::span<const display::DirtyRect> rects) override;

  // JS thread only. Keep the process alive while the machine runs.
  void keep_process_alive(Napi::Env env, bool alive);
  // JS thread only, after every producer thread has stopped. Undelivered
  // events are still delivered; later calls are dropped.
  void release();
  // Environment teardown: Node finalizes the function itself; stop using it.
  void abandon();

 private:
  void queue(EventDelivery delivery);

  EventFunction function_;
  std::shared_ptr<PendingSerialOutput> pending_serial_ = std::make_shared<PendingSerialOutput>();
  std::shared_ptr<PendingDisplayDamage> pending_damage_ = std::make_shared<PendingDisplayDamage>();
  std::mutex release_mutex_;
  bool released_ = false;
};

}  // namespace nestbox::binding
