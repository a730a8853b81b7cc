// Watches the board's display for the machine's owner: mode changes as they
// happen, and the rectangles that changed, at most once per display refresh
// and only while someone streams (set_streaming). A still screen costs one
// framebuffer comparison per tick; after a second without change the ticks
// slow to kIdleInterval, and the first change brings them back to the
// refresh rate. Nothing runs while nobody streams.
//
// Threading: attach()/detach() and every tick on the machine's I/O thread (or
// before it starts / after it stops); set_streaming() and request_full_frame()
// from any thread (they post to it). The mode listener runs on vCPU threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "devices/display/display_mode.h"
#include "devices/display/framebuffer_tracker.h"
#include "machine/io_thread.h"
#include "machine/machine_events.h"

namespace nestbox {

namespace display {
class BochsDisplay;
}

inline constexpr std::chrono::microseconds kRefreshInterval{16'667};  // 60 Hz
inline constexpr std::chrono::milliseconds kIdleInterval{100};
inline constexpr int kIdleTicksBeforeSlowing = 60;

class DisplayMonitor {
 public:
  // `on_mode` also runs on vCPU threads: the machine uses it to tell the
  // input router the new pointer range.
  using ModeHook = std::function<void(const std::optional<display::DisplayMode>&)>;

  DisplayMonitor(IoThread& io, MachineEventSink& events, ModeHook on_mode);
  ~DisplayMonitor();
  DisplayMonitor(const DisplayMonitor&) = delete;
  DisplayMonitor& operator=(const DisplayMonitor&) = delete;

  // The display of the current board (null: headless or between boots).
  void attach(std::shared_ptr<display::BochsDisplay> display);
  void detach();
  // Watches the tick timer (I/O thread, or before it starts).
  void attach_io();

  void set_streaming(bool on);
  // The next tick reports the whole frame (a viewer connected).
  void request_full_frame();

 private:
  void tick();
  void arm(std::chrono::nanoseconds interval);

  IoThread& io_;
  MachineEventSink& events_;
  ModeHook on_mode_;
  IoTimer timer_;
  // I/O thread only.
  std::shared_ptr<display::BochsDisplay> display_;
  display::FramebufferTracker tracker_;
  bool streaming_ = false;
  int idle_ticks_ = 0;
  bool slow_ = false;
};

}  // namespace nestbox
