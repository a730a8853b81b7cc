// virtio-input (virtio 1.2, section 5.8): evdev events over a virtqueue.
// One class, two kinds:
//   * Keyboard "Nestbox Keyboard": EV_KEY for every key of the shared key
//     table (devices/input/key_codes.h), EV_REP (the guest autorepeats held
//     keys itself, so the host must not forward its own repeats), EV_LED
//     Num/Caps/Scroll Lock (the driver reports them on the status queue).
//   * Tablet "Nestbox Tablet": an absolute pointer. EV_ABS ABS_X/ABS_Y over
//     0..kAbsMax, EV_KEY BTN_LEFT/RIGHT/MIDDLE/SIDE/EXTRA, EV_REL REL_WHEEL
//     and REL_HWHEEL, and no property bits: absolute axes plus mouse buttons
//     is what udev and libinput classify as an absolute mouse (VMware's and
//     QEMU's USB tablets have the same shape). INPUT_PROP_DIRECT would tell
//     some stacks it is a touchscreen; INPUT_PROP_POINTER would suggest a
//     touchpad.
//
// Why a fixed 0..32767 range instead of framebuffer pixels: the driver reads
// ABS_INFO once at probe, but the guest changes its resolution at will. The
// UI sends pixel positions; move_to() scales them with the display size the
// machine reports through set_display_size().
//
// Queues: 0 eventq (device → driver, device-writable 8-byte buffers), 1
// statusq (driver → device: LED state, returned with used length 0).
// Configuration space: select/subsel written by the driver, size and the
// union answered per select (section 5.8.2); unknown selections read size 0.
//
// Threads and locks: the transport calls VirtioDevice methods under its
// lock. inject(), move_to(), set_display_size(), active(), leds() and stats()
// may be called from any thread; inject() reaches the queues through the
// activation's RunLocked (taking the transport lock first, then ours — the
// same order as the transport's own calls). Our mutex guards everything
// below, so the device state is consistent from any thread.
//
// Events arriving while the driver has posted no buffers wait in a pending
// buffer of kPendingEvents events and go out, in order, when buffers come.
// A batch that does not fit is dropped whole (counted): half a batch could
// leave a key pressed in the guest. Events injected while the driver is not
// active (before DRIVER_OK, after a reset or NEEDS_RESET) are refused
// (inject() returns false), so a caller can route them elsewhere. Pending
// events are lost on reset and are not part of a snapshot.
//
// What a misbehaving driver gets: an eventq chain with device-readable
// buffers or fewer than 8 writable bytes is returned with used length 0
// (counted, the event waits for the next chain); a statusq chain is read
// up to kMaxStatusBytes and always returned. A structurally broken queue
// throws VirtQueueError: the transport sets DEVICE_NEEDS_RESET.
//
// Integration:
//   auto kbd = std::make_unique<VirtioInput>(InputDeviceKind::Keyboard, log);
//   VirtioInput* kbd_ref = kbd.get();
//   auto pci = std::make_shared<VirtioPciDevice>(std::move(kbd), memory, msi, log);
//   std::shared_ptr<VirtioInput> keyboard(pci, kbd_ref);  // aliasing: shares pci's ownership
//   input_router.attach(i8042, keyboard, tablet);          // which holds it weakly
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "devices/virtio/virtio_device.h"

namespace nestbox::virtio {

namespace input_abi {
// virtio_input_config_select
inline constexpr std::uint8_t kCfgUnset = 0x00;
inline constexpr std::uint8_t kCfgIdName = 0x01;
inline constexpr std::uint8_t kCfgIdSerial = 0x02;
inline constexpr std::uint8_t kCfgIdDevids = 0x03;
inline constexpr std::uint8_t kCfgPropBits = 0x10;
inline constexpr std::uint8_t kCfgEvBits = 0x11;
inline constexpr std::uint8_t kCfgAbsInfo = 0x12;

// struct virtio_input_config: select, subsel, size, reserved[5], union u[128].
inline constexpr std::uint32_t kConfigSelect = 0;
inline constexpr std::uint32_t kConfigSubsel = 1;
inline constexpr std::uint32_t kConfigSize = 2;
inline constexpr std::uint32_t kConfigUnion = 8;
inline constexpr std::uint32_t kConfigUnionSize = 128;
inline constexpr std::uint32_t kConfigTotalSize = kConfigUnion + kConfigUnionSize;

inline constexpr std::uint32_t kAbsInfoSize = 20;  // le32 min, max, fuzz, flat, res
inline constexpr std::uint32_t kDevidsSize = 8;    // le16 bustype, vendor, product, version
inline constexpr std::uint32_t kEventSize = 8;     // le16 type, le16 code, le32 value

// Our IDs: BUS_VIRTUAL, an arbitrary vendor ("NB"), one product per kind.
inline constexpr std::uint16_t kVendorId = 0x4e42;
inline constexpr std::uint16_t kProductKeyboard = 0x0001;
inline constexpr std::uint16_t kProductTablet = 0x0002;
inline constexpr std::uint16_t kVersion = 0x0001;
}  // namespace input_abi

// One evdev event, host order (little-endian on the wire).
struct InputEvent {
  std::uint16_t type = 0;
  std::uint16_t code = 0;
  std::int32_t value = 0;
  friend bool operator==(const InputEvent&, const InputEvent&) = default;
};

enum class InputDeviceKind : std::uint8_t { Keyboard, Tablet };

// Guest-visible state for snapshots.
struct VirtioInputState {
  std::uint8_t select = 0;
  std::uint8_t subsel = 0;
  std::uint8_t leds = 0;  // bit n: LED code n is on (keyboard)
  std::uint32_t display_width = 0;
  std::uint32_t display_height = 0;
};

struct VirtioInputStats {
  std::uint64_t events_delivered = 0;  // written into guest buffers
  std::uint64_t batches_dropped = 0;   // pending buffer full
  std::uint64_t buffers_rejected = 0;  // malformed eventq chains
  std::uint64_t status_events = 0;     // read from the statusq
};

// Pixel `pixel` of a display `extent` pixels wide, on the 0..abs_max axis:
// 0 maps to 0 and extent - 1 to abs_max, rounded; outside the display is
// clamped to its edge. An extent of 0 or 1 maps everything to 0.
[[nodiscard]] std::int32_t scale_to_abs(std::int64_t pixel, std::uint32_t extent,
                                        std::int32_t abs_max);

class VirtioInput : public VirtioDevice {
 public:
  using Logger = std::function<void(std::string_view)>;

  static constexpr std::uint16_t kQueueSize = 64;
  static constexpr std::uint16_t kEventQueue = 0;
  static constexpr std::uint16_t kStatusQueue = 1;
  static constexpr std::size_t kPendingEvents = 256;
  static constexpr std::uint32_t kMaxStatusBytes = 64 * input_abi::kEventSize;
  static constexpr std::int32_t kAbsMax = 32767;
  // Until the machine reports the real mode.
  static constexpr std::uint32_t kDefaultDisplayWidth = 1024;
  static constexpr std::uint32_t kDefaultDisplayHeight = 768;

  explicit VirtioInput(InputDeviceKind kind, Logger log = {});
  ~VirtioInput() override;
  VirtioInput(const VirtioInput&) = delete;
  VirtioInput& operator=(const VirtioInput&) = delete;

  [[nodiscard]] InputDeviceKind kind() const { return kind_; }
  [[nodiscard]] std::string_view name() const;

  // VirtioDevice
  [[nodiscard]] std::uint16_t device_type() const override;
  [[nodiscard]] std::uint64_t device_features() const override { return 0; }
  [[nodiscard]] std::vector<std::uint16_t> queue_max_sizes() const override {
    return {kQueueSize, kQueueSize};
  }
  [[nodiscard]] std::uint32_t config_size() const override { return input_abi::kConfigTotalSize; }
  void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override;
  // Only select and subsel are writable; the rest is ignored.
  void write_config(std::uint32_t offset, std::span<const std::uint8_t> data) override;
  void activate(const VirtioDeviceContext& context) override;
  void process_queue(std::uint16_t queue) override;
  void reset() override;

  // Any thread. Queues `events` plus a SYN_REPORT as one batch and delivers
  // what the driver has buffers for. False: the driver is not active, or the
  // pending buffer had no room for the batch (dropped whole).
  bool inject(std::span<const InputEvent> events);
  // Tablet, any thread: the pointer is at framebuffer pixel (x, y).
  bool move_to(std::int64_t x, std::int64_t y);
  void set_display_size(std::uint32_t width, std::uint32_t height);
  // Between activate() and reset(): the driver set DRIVER_OK.
  [[nodiscard]] bool active() const;
  [[nodiscard]] std::uint8_t leds() const;
  [[nodiscard]] VirtioInputStats stats() const;

  [[nodiscard]] VirtioInputState save() const;
  // Before the transport's restore (which re-activates the device).
  void restore(const VirtioInputState& state);

 private:
  // The union and its size for the current select/subsel.
  [[nodiscard]] std::vector<std::uint8_t> selected_union() const;
  [[nodiscard]] std::vector<std::uint8_t> event_bits(std::uint8_t type) const;
  void deliver_pending();  // with mutex_ held, under the transport lock
  void consume_status();   // likewise
  void log_guest_error(std::string_view what);

  const InputDeviceKind kind_;
  Logger log_;

  mutable std::mutex mutex_;
  VirtioDeviceContext context_;  // memory == nullptr while inactive
  bool active_ = false;
  std::uint8_t select_ = 0;
  std::uint8_t subsel_ = 0;
  std::uint8_t leds_ = 0;
  std::uint32_t display_width_ = kDefaultDisplayWidth;
  std::uint32_t display_height_ = kDefaultDisplayHeight;
  std::deque<InputEvent> pending_;
  VirtioInputStats stats_;
  unsigned guest_errors_logged_ = 0;  // per activation, so a bad driver cannot flood the log
};

}  // namespace nestbox::virtio
