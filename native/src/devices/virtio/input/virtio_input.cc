#include "devices/virtio/input/virtio_input.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "devices/input/key_codes.h"
#include "devices/virtio/virtio_abi.h"

namespace nestbox::virtio {

namespace {

namespace ev = input::evdev;
namespace abi = input_abi;

constexpr unsigned kMaxGuestErrorLogs = 8;

constexpr std::string_view kKeyboardName = "Nestbox Keyboard";
constexpr std::string_view kTabletName = "Nestbox Tablet";
constexpr std::string_view kKeyboardSerial = "nestbox-keyboard-0";
constexpr std::string_view kTabletSerial = "nestbox-tablet-0";

void put_le16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void put_le32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

// An evdev-style bitmap of `codes`, trimmed after its last non-zero byte:
// the size the driver reads says how far the bitmap goes.
std::vector<std::uint8_t> bitmap_of(std::initializer_list<std::uint16_t> codes) {
  std::vector<std::uint8_t> bitmap;
  for (std::uint16_t code : codes) {
    const std::size_t byte = code / 8;
    if (byte >= abi::kConfigUnionSize) continue;  // cannot be described in 128 bytes
    if (bitmap.size() <= byte) bitmap.resize(byte + 1, 0);
    bitmap[byte] = static_cast<std::uint8_t>(bitmap[byte] | (1u << (code % 8)));
  }
  return bitmap;
}

std::vector<std::uint8_t> keyboard_key_bitmap() {
  std::vector<std::uint8_t> bitmap;
  for (const input::KeyCode& key : input::key_codes()) {
    const std::size_t byte = key.evdev / 8;
    if (bitmap.size() <= byte) bitmap.resize(byte + 1, 0);
    bitmap[byte] = static_cast<std::uint8_t>(bitmap[byte] | (1u << (key.evdev % 8)));
  }
  return bitmap;
}

std::vector<std::uint8_t> string_bytes(std::string_view text) {
  const std::size_t length = std::min<std::size_t>(text.size(), abi::kConfigUnionSize);
  return {text.begin(), text.begin() + static_cast<std::ptrdiff_t>(length)};
}

}  // namespace

std::int32_t scale_to_abs(std::int64_t pixel, std::uint32_t extent, std::int32_t abs_max) {
  if (extent <= 1 || abs_max <= 0) return 0;
  const std::int64_t last = static_cast<std::int64_t>(extent) - 1;
  const std::int64_t clamped = std::clamp<std::int64_t>(pixel, 0, last);
  // Rounded to nearest so the centre pixel of the display lands on the
  // centre of the axis and both edges are reachable exactly.
  return static_cast<std::int32_t>((clamped * abs_max + last / 2) / last);
}

VirtioInput::VirtioInput(InputDeviceKind kind, Logger log) : kind_(kind), log_(std::move(log)) {}

VirtioInput::~VirtioInput() = default;

std::string_view VirtioInput::name() const {
  return kind_ == InputDeviceKind::Keyboard ? kKeyboardName : kTabletName;
}

std::uint16_t VirtioInput::device_type() const { return kDeviceTypeInput; }

// ---- configuration space ----

std::vector<std::uint8_t> VirtioInput::event_bits(std::uint8_t type) const {
  if (kind_ == InputDeviceKind::Keyboard) {
    switch (type) {
      case ev::kEvKey: return keyboard_key_bitmap();
      // The codes are the autorepeat parameters; Linux only needs a non-zero
      // size to turn on its software autorepeat.
      case ev::kEvRep: return bitmap_of({ev::kRepDelay, ev::kRepPeriod});
      case ev::kEvLed: return bitmap_of({ev::kLedNumLock, ev::kLedCapsLock, ev::kLedScrollLock});
      default: return {};
    }
  }
  switch (type) {
    case ev::kEvKey:
      return bitmap_of({ev::kBtnLeft, ev::kBtnRight, ev::kBtnMiddle, ev::kBtnSide, ev::kBtnExtra});
    case ev::kEvRel: return bitmap_of({ev::kRelHWheel, ev::kRelWheel});
    case ev::kEvAbs: return bitmap_of({ev::kAbsX, ev::kAbsY});
    default: return {};
  }
}

std::vector<std::uint8_t> VirtioInput::selected_union() const {
  const bool keyboard = kind_ == InputDeviceKind::Keyboard;
  switch (select_) {
    case abi::kCfgIdName: return string_bytes(name());
    case abi::kCfgIdSerial: return string_bytes(keyboard ? kKeyboardSerial : kTabletSerial);
    case abi::kCfgIdDevids: {
      std::vector<std::uint8_t> ids;
      put_le16(ids, ev::kBusVirtual);
      put_le16(ids, abi::kVendorId);
      put_le16(ids, keyboard ? abi::kProductKeyboard : abi::kProductTablet);
      put_le16(ids, abi::kVersion);
      return ids;
    }
    case abi::kCfgPropBits: return {};  // no properties (see the header)
    case abi::kCfgEvBits: return event_bits(subsel_);
    case abi::kCfgAbsInfo: {
      if (keyboard || (subsel_ != ev::kAbsX && subsel_ != ev::kAbsY)) return {};
      std::vector<std::uint8_t> info;
      put_le32(info, 0);                                    // min
      put_le32(info, static_cast<std::uint32_t>(kAbsMax));  // max
      put_le32(info, 0);                                    // fuzz: positions are exact
      put_le32(info, 0);                                    // flat
      put_le32(info, 0);                                    // res: unknown
      return info;
    }
    default: return {};  // UNSET and anything we do not know: size 0
  }
}

void VirtioInput::read_config(std::uint32_t offset, std::span<std::uint8_t> data) {
  const std::lock_guard lock(mutex_);
  std::array<std::uint8_t, abi::kConfigTotalSize> image{};
  const std::vector<std::uint8_t> u = selected_union();
  image[abi::kConfigSelect] = select_;
  image[abi::kConfigSubsel] = subsel_;
  image[abi::kConfigSize] = static_cast<std::uint8_t>(u.size());
  std::copy(u.begin(), u.end(), image.begin() + abi::kConfigUnion);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::size_t at = offset + i;
    data[i] = at < image.size() ? image[at] : 0;
  }
}

void VirtioInput::write_config(std::uint32_t offset, std::span<const std::uint8_t> data) {
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::size_t at = offset + i;
    if (at == abi::kConfigSelect) select_ = data[i];
    if (at == abi::kConfigSubsel) subsel_ = data[i];
  }
}

// ---- lifecycle ----

void VirtioInput::activate(const VirtioDeviceContext& context) {
  const std::lock_guard lock(mutex_);
  context_ = context;
  active_ = true;
  guest_errors_logged_ = 0;
}

void VirtioInput::reset() {
  const std::lock_guard lock(mutex_);
  context_ = VirtioDeviceContext{};
  active_ = false;
  pending_.clear();  // stale keys must not reach the next driver
  // select/subsel and the LEDs stay: a driver writes select before every
  // read and reports the LEDs again when it binds, and keeping them lets a
  // snapshot restore (device restore, then a transport restore that resets
  // an active device) keep what it restored.
}

bool VirtioInput::active() const {
  const std::lock_guard lock(mutex_);
  return active_;
}

// ---- queues ----

void VirtioInput::process_queue(std::uint16_t queue) {
  const std::lock_guard lock(mutex_);
  if (queue == kEventQueue) {
    deliver_pending();  // the driver posted buffers: events waiting can go
  } else if (queue == kStatusQueue) {
    consume_status();
  }
}

void VirtioInput::log_guest_error(std::string_view what) {
  ++stats_.buffers_rejected;
  if (log_ && guest_errors_logged_ < kMaxGuestErrorLogs) {
    ++guest_errors_logged_;
    log_(std::string("virtio-input: ") + std::string(what));
  }
}

void VirtioInput::deliver_pending() {
  if (context_.memory == nullptr || context_.queues.size() <= kEventQueue) return;
  const GuestMemory& memory = *context_.memory;
  VirtQueue& events = context_.queues[kEventQueue];
  bool returned_any = false;
  while (!pending_.empty()) {
    const std::optional<DescriptorChain> chain = events.pop(memory);
    if (!chain) break;  // no buffers: the rest waits for the driver's next notification
    returned_any = true;
    if (!chain->readable.empty() || chain->writable_bytes() < abi::kEventSize) {
      log_guest_error("event buffer is not 8 device-writable bytes; returned unused");
      events.add_used(memory, chain->head, 0);
      continue;
    }
    const InputEvent& event = pending_.front();
    std::array<std::uint8_t, abi::kEventSize> wire{};
    const auto value = static_cast<std::uint32_t>(event.value);
    wire[0] = static_cast<std::uint8_t>(event.type);
    wire[1] = static_cast<std::uint8_t>(event.type >> 8);
    wire[2] = static_cast<std::uint8_t>(event.code);
    wire[3] = static_cast<std::uint8_t>(event.code >> 8);
    for (int i = 0; i < 4; ++i) wire[4 + i] = static_cast<std::uint8_t>(value >> (8 * i));
    // Scattered over the writable buffers, though Linux posts one of 8 bytes.
    std::size_t written = 0;
    for (const GuestBuffer& buffer : chain->writable) {
      if (written == wire.size()) break;
      const std::size_t length = std::min<std::size_t>(buffer.length, wire.size() - written);
      memory.write(buffer.address, std::span<const std::uint8_t>(wire.data() + written, length));
      written += length;
    }
    events.add_used(memory, chain->head, abi::kEventSize);
    pending_.pop_front();
    ++stats_.events_delivered;
  }
  if (returned_any && events.needs_notification(memory)) {
    context_.interrupt->signal_used_queue(kEventQueue);
  }
}

void VirtioInput::consume_status() {
  if (context_.memory == nullptr || context_.queues.size() <= kStatusQueue) return;
  const GuestMemory& memory = *context_.memory;
  VirtQueue& status = context_.queues[kStatusQueue];
  bool returned_any = false;
  for (;;) {
    const std::optional<DescriptorChain> chain = status.pop(memory);
    if (!chain) break;
    returned_any = true;
    // Gather the readable bytes (bounded) and read whole events from them.
    std::vector<std::uint8_t> bytes;
    for (const GuestBuffer& buffer : chain->readable) {
      const std::size_t room = kMaxStatusBytes - bytes.size();
      if (room == 0) break;
      const std::size_t length = std::min<std::size_t>(buffer.length, room);
      const std::size_t start = bytes.size();
      bytes.resize(start + length);
      memory.read(buffer.address, std::span<std::uint8_t>(bytes.data() + start, length));
    }
    if (bytes.size() < abi::kEventSize) {
      log_guest_error("status buffer shorter than one event; ignored");
    }
    for (std::size_t at = 0; at + abi::kEventSize <= bytes.size(); at += abi::kEventSize) {
      const auto type = static_cast<std::uint16_t>(bytes[at] | (bytes[at + 1] << 8));
      const auto code = static_cast<std::uint16_t>(bytes[at + 2] | (bytes[at + 3] << 8));
      std::uint32_t value = 0;
      for (int i = 0; i < 4; ++i) value |= std::uint32_t{bytes[at + 4 + static_cast<std::size_t>(i)]} << (8 * i);
      ++stats_.status_events;
      if (type == ev::kEvLed && code < 8) {
        const auto bit = static_cast<std::uint8_t>(1u << code);
        leds_ = static_cast<std::uint8_t>(value != 0 ? (leds_ | bit) : (leds_ & ~bit));
      }
      // Anything else the driver reports (EV_SND bells, ...) has no effect here.
    }
    status.add_used(memory, chain->head, 0);
  }
  if (returned_any && status.needs_notification(memory)) {
    context_.interrupt->signal_used_queue(kStatusQueue);
  }
}

// ---- host side ----

bool VirtioInput::inject(std::span<const InputEvent> events) {
  RunLocked run_locked;
  {
    const std::lock_guard lock(mutex_);
    if (!active_) return false;
    run_locked = context_.run_locked;
  }
  if (!run_locked) return false;
  bool accepted = false;
  // Transport lock first (inside run_locked), then ours: the order every
  // transport-initiated call uses.
  const bool ran = run_locked([&] {
    const std::lock_guard lock(mutex_);
    if (!active_) return;
    if (pending_.size() + events.size() + 1 > kPendingEvents) {
      ++stats_.batches_dropped;
      return;
    }
    pending_.insert(pending_.end(), events.begin(), events.end());
    pending_.push_back(InputEvent{ev::kEvSyn, ev::kSynReport, 0});
    deliver_pending();
    // Only now: if the queue turned out broken (VirtQueueError, caught by
    // run_locked, device now NEEDS_RESET) the caller learns it was not delivered.
    accepted = true;
  });
  return ran && accepted;
}

bool VirtioInput::move_to(std::int64_t x, std::int64_t y) {
  std::int32_t abs_x = 0;
  std::int32_t abs_y = 0;
  {
    const std::lock_guard lock(mutex_);
    abs_x = scale_to_abs(x, display_width_, kAbsMax);
    abs_y = scale_to_abs(y, display_height_, kAbsMax);
  }
  const std::array<InputEvent, 2> events{InputEvent{ev::kEvAbs, ev::kAbsX, abs_x},
                                         InputEvent{ev::kEvAbs, ev::kAbsY, abs_y}};
  return inject(events);
}

void VirtioInput::set_display_size(std::uint32_t width, std::uint32_t height) {
  const std::lock_guard lock(mutex_);
  display_width_ = width;
  display_height_ = height;
}

std::uint8_t VirtioInput::leds() const {
  const std::lock_guard lock(mutex_);
  return leds_;
}

VirtioInputStats VirtioInput::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

VirtioInputState VirtioInput::save() const {
  const std::lock_guard lock(mutex_);
  return VirtioInputState{select_, subsel_, leds_, display_width_, display_height_};
}

void VirtioInput::restore(const VirtioInputState& state) {
  const std::lock_guard lock(mutex_);
  select_ = state.select;
  subsel_ = state.subsel;
  leds_ = state.leds;
  display_width_ = state.display_width;
  display_height_ = state.display_height;
  pending_.clear();
}

}  // namespace nestbox::virtio
