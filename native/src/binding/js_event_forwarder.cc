#include "binding/js_event_forwarder.h"

#include <algorithm>
#include <utility>

namespace nestbox::binding {

namespace {

Napi::Object registers_to_js(Napi::Env env, const VcpuRegisters& registers) {
  // BigInt: 64-bit register values do not fit a double.
  Napi::Object object = Napi::Object::New(env);
  for (const auto& [name, value] : registers.named()) {
    object.Set(std::string(name), Napi::BigInt::New(env, value));
  }
  return object;
}

Napi::Object serial_event(Napi::Env env, const std::vector<std::uint8_t>& bytes) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "serial");
  Napi::Uint8Array data = Napi::Uint8Array::New(env, bytes.size());
  std::copy(bytes.begin(), bytes.end(), data.Data());
  event.Set("data", data);
  return event;
}

Napi::Object state_event(Napi::Env env, const StateDelivery& state) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "state");
  event.Set("state", std::string(machine_state_name(state.state)));
  if (!state.reason.empty()) {
    event.Set("reason", state.reason);
  }
  return event;
}

Napi::Object reset_event(Napi::Env env, const ResetDelivery& reset) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "reset");
  event.Set("cause", std::string(reset_cause_name(reset.cause)));
  event.Set("reboot", reset.reboot);
  return event;
}

Napi::Object error_event(Napi::Env env, const MachineErrorReport& report) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "error");
  event.Set("message", report.message);
  if (report.registers) {
    event.Set("registers", registers_to_js(env, *report.registers));
  }
  return event;
}

Napi::Object log_event(Napi::Env env, const LogDelivery& log) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "log");
  event.Set("message", log.message);
  return event;
}

Napi::Value display_mode_to_js(Napi::Env env, const std::optional<display::DisplayMode>& mode) {
  if (!mode) return env.Null();
  Napi::Object object = Napi::Object::New(env);
  object.Set("width", mode->width);
  object.Set("height", mode->height);
  object.Set("bitsPerPixel", mode->bpp);
  return object;
}

Napi::Object display_mode_event(Napi::Env env, const DisplayModeDelivery& delivery) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "display-mode");
  event.Set("mode", display_mode_to_js(env, delivery.mode));
  return event;
}

Napi::Object display_damage_event(Napi::Env env, const display::DisplayMode& mode,
                                  const std::vector<display::DirtyRect>& damage) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "display-damage");
  event.Set("mode", display_mode_to_js(env, mode));
  // x, y, width, height per rectangle: one allocation, however many.
  Napi::Uint32Array rects = Napi::Uint32Array::New(env, damage.size() * 4);
  for (std::size_t i = 0; i < damage.size(); ++i) {
    const display::DirtyRect& rect = damage[i];
    rects[i * 4] = rect.x;
    rects[i * 4 + 1] = rect.y;
    rects[i * 4 + 2] = rect.width;
    rects[i * 4 + 3] = rect.height;
  }
  event.Set("rects", rects);
  return event;
}

}  // namespace

Napi::Value display_mode_value(Napi::Env env, const std::optional<display::DisplayMode>& mode) {
  return display_mode_to_js(env, mode);
}

bool PendingSerialOutput::append(std::span<const std::uint8_t> bytes) {
  const std::lock_guard lock(mutex_);
  const bool was_empty = bytes_.empty();
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  return was_empty;
}

bool PendingDisplayDamage::append(const display::DisplayMode& mode,
                                  std::span<const display::DirtyRect> rects) {
  const std::lock_guard lock(mutex_);
  const bool was_empty = !mode_;
  if (mode_ != mode) {
    // Damage of an older mode means nothing in this one (its full frame follows).
    rects_.clear();
    mode_ = mode;
  }
  rects_.insert(rects_.end(), rects.begin(), rects.end());
  if (rects_.size() > kMaxRects) {
    display::DirtyRect bounds = rects_.front();
    std::uint32_t right = bounds.x + bounds.width;
    std::uint32_t bottom = bounds.y + bounds.height;
    for (const display::DirtyRect& rect : rects_) {
      bounds.x = std::min(bounds.x, rect.x);
      bounds.y = std::min(bounds.y, rect.y);
      right = std::max(right, rect.x + rect.width);
      bottom = std::max(bottom, rect.y + rect.height);
    }
    bounds.width = right - bounds.x;
    bounds.height = bottom - bounds.y;
    rects_.assign(1, bounds);
  }
  return was_empty;
}

std::optional<std::pair<display::DisplayMode, std::vector<display::DirtyRect>>>
PendingDisplayDamage::take() {
  const std::lock_guard lock(mutex_);
  if (!mode_) return std::nullopt;
  auto result = std::make_pair(*mode_, std::exchange(rects_, {}));
  mode_.reset();
  return result;
}

std::vector<std::uint8_t> PendingSerialOutput::take() {
  const std::lock_guard lock(mutex_);
  return std::exchange(bytes_, {});
}

void deliver_event_to_js(Napi::Env env, Napi::Function on_event, std::nullptr_t* /*context*/,
                         EventDelivery* raw_delivery) {
  // The queue handed us ownership (see JsEventForwarder::queue).
  const std::unique_ptr<EventDelivery> delivery(raw_delivery);
  if (env == nullptr || on_event.IsEmpty()) {
    return;  // the environment is shutting down
  }
  try {
    Napi::Object event;
    if (const auto* serial = std::get_if<SerialDelivery>(delivery.get())) {
      const std::vector<std::uint8_t> bytes = serial->pending->take();
      if (bytes.empty()) {
        return;  // an earlier delivery already carried these bytes
      }
      event = serial_event(env, bytes);
    } else if (const auto* state = std::get_if<StateDelivery>(delivery.get())) {
      event = state_event(env, *state);
    } else if (const auto* reset = std::get_if<ResetDelivery>(delivery.get())) {
      event = reset_event(env, *reset);
    } else if (const auto* log = std::get_if<LogDelivery>(delivery.get())) {
      event = log_event(env, *log);
    } else if (const auto* mode = std::get_if<DisplayModeDelivery>(delivery.get())) {
      event = display_mode_event(env, *mode);
    } else if (const auto* damage = std::get_if<DisplayDamageDelivery>(delivery.get())) {
      auto pending = damage->pending->take();
      if (!pending) {
        return;  // an earlier delivery already carried this damage
      }
      event = display_damage_event(env, pending->first, pending->second);
    } else {
      event = error_event(env, std::get<ErrorDelivery>(*delivery).report);
    }
    on_event.Call({event});
  } catch (const Napi::Error& error) {
    // The listener threw: surface it like any uncaught exception in a callback.
    napi_fatal_exception(env, error.Value());
  }
}

JsEventForwarder::JsEventForwarder(Napi::Env env, Napi::Function on_event)
    : function_(EventFunction::New(env, on_event, "nestbox-machine-events", 0, 1)) {
  function_.Unref(env);
}

JsEventForwarder::~JsEventForwarder() { release(); }

void JsEventForwarder::on_serial_output(std::span<const std::uint8_t> bytes) {
  if (pending_serial_->append(bytes)) {
    queue(SerialDelivery{pending_serial_});
  }
}

void JsEventForwarder::on_state_changed(MachineState state, std::string_view reason) {
  queue(StateDelivery{state, std::string(reason)});
}

void JsEventForwarder::on_reset(ResetCause cause, bool reboot) {
  queue(ResetDelivery{cause, reboot});
}

void JsEventForwarder::on_error(const MachineErrorReport& report) {
  queue(ErrorDelivery{report});
}

void JsEventForwarder::on_log(std::string_view message) {
  queue(LogDelivery{std::string(message)});
}

void JsEventForwarder::on_display_mode(const std::optional<display::DisplayMode>& mode) {
  queue(DisplayModeDelivery{mode});
}

void JsEventForwarder::on_display_damage(const display::DisplayMode& mode,
                                         std::span<const display::DirtyRect> rects) {
  if (pending_damage_->append(mode, rects)) {
    queue(DisplayDamageDelivery{pending_damage_});
  }
}

void JsEventForwarder::keep_process_alive(Napi::Env env, bool alive) {
  const std::lock_guard lock(release_mutex_);
  if (released_) {
    return;
  }
  if (alive) {
    function_.Ref(env);
  } else {
    function_.Unref(env);
  }
}

void JsEventForwarder::release() {
  const std::lock_guard lock(release_mutex_);
  if (!released_) {
    released_ = true;
    function_.Release();
  }
}

void JsEventForwarder::abandon() {
  const std::lock_guard lock(release_mutex_);
  released_ = true;
}

void JsEventForwarder::queue(EventDelivery delivery) {
  const std::lock_guard lock(release_mutex_);
  if (released_) {
    return;
  }
  auto owned = std::make_unique<EventDelivery>(std::move(delivery));
  if (function_.NonBlockingCall(owned.get()) == napi_ok) {
    owned.release();  // deliver_event_to_js owns it now
  }
}

}  // namespace nestbox::binding
