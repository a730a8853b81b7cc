#include "machine/display_monitor.h"

#include <utility>

#include "devices/display/bochs_display.h"

namespace nestbox {

DisplayMonitor::DisplayMonitor(IoThread& io, MachineEventSink& events, ModeHook on_mode)
    : io_(io), events_(events), on_mode_(std::move(on_mode)) {}

DisplayMonitor::~DisplayMonitor() = default;

void DisplayMonitor::attach(std::shared_ptr<display::BochsDisplay> display) {
  display_ = std::move(display);
  tracker_.request_full_frame();
  if (!display_) {
    events_.on_display_mode(std::nullopt);
    return;
  }
  display_->set_mode_listener([this](const std::optional<display::DisplayMode>& mode) {
    on_mode_(mode);
    events_.on_display_mode(mode);
  });
  const std::optional<display::DisplayMode> mode = display_->visible_mode();
  on_mode_(mode);
  events_.on_display_mode(mode);
}

void DisplayMonitor::detach() {
  if (display_) display_->set_mode_listener({});
  display_.reset();
}

void DisplayMonitor::attach_io() {
  io_.watch(timer_.fd(), [this] {
    timer_.consume();
    tick();
  });
}

void DisplayMonitor::set_streaming(bool on) {
  io_.post([this, on] {
    if (on == streaming_) return;
    streaming_ = on;
    idle_ticks_ = 0;
    slow_ = false;
    if (on) {
      tracker_.request_full_frame();
      arm(kRefreshInterval);
    } else {
      timer_.arm(0);
    }
  });
}

void DisplayMonitor::request_full_frame() {
  io_.post([this] { tracker_.request_full_frame(); });
}

void DisplayMonitor::arm(std::chrono::nanoseconds interval) {
  const auto ns = static_cast<std::uint64_t>(interval.count());
  timer_.arm(ns, ns);
}

void DisplayMonitor::tick() {
  if (!streaming_ || !display_) return;
  const std::optional<display::DisplayMode> mode = display_->visible_mode();
  const std::vector<display::DirtyRect> rects = tracker_.collect(mode, display_->vram());
  if (rects.empty()) {
    if (!slow_ && ++idle_ticks_ >= kIdleTicksBeforeSlowing) {
      slow_ = true;
      arm(kIdleInterval);
    }
    return;
  }
  idle_ticks_ = 0;
  if (slow_) {
    slow_ = false;
    arm(kRefreshInterval);
  }
  // The mode goes with the rectangles: a mode change on a vCPU thread can
  // overtake this tick's event, and the consumer must be able to tell.
  events_.on_display_damage(*mode, rects);
}

}  // namespace nestbox
