#include "devices/display/bochs_display.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "bus/pci/pci_abi.h"
#include "common/nestbox_error.h"
#include "devices/display/png_encoder.h"

namespace nestbox::display {

namespace {

constexpr std::uint64_t kDispiEnd = BochsDisplay::kDispiOffset + 2 * dispi::kRegisterCount;
constexpr std::uint64_t kVgaEnd = BochsDisplay::kVgaOffset + BochsDisplay::kVgaPortCount;
constexpr std::uint64_t kQextEnd = BochsDisplay::kQextOffset + BochsDisplay::kQextSize;
constexpr std::uint8_t kAttributePictureOn = 0x20;  // palette address source
constexpr std::uint8_t kAttributeIndexMask = 0x1f;

// VGA ports (as offsets from 0x3c0 they sit at BAR 2 + 0x400 + offset).
constexpr std::uint16_t kAttributeAddressData = 0x3c0;
constexpr std::uint16_t kAttributeDataRead = 0x3c1;
constexpr std::uint16_t kMiscOutputWrite = 0x3c2;
constexpr std::uint16_t kMiscOutputRead = 0x3cc;
constexpr std::uint16_t kInputStatusMono = 0x3ba;
constexpr std::uint16_t kInputStatusColour = 0x3da;
// Input status #1: vertical retrace (bit 3) and display disabled (bit 0).
constexpr std::uint8_t kInRetrace = 0x09;

std::uint32_t little_endian(std::span<const std::uint8_t> bytes) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < bytes.size() && i < 4; ++i) value |= std::uint32_t{bytes[i]} << (8 * i);
  return value;
}

void fill_little_endian(std::span<std::uint8_t> data, std::uint32_t value, std::size_t width) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = i < width ? static_cast<std::uint8_t>(value >> (8 * i)) : std::uint8_t{0xff};
  }
}

// BAR 0 as MMIO: the VRAM itself. Used until (or unless) the machine maps the
// VRAM as a memory slot; owns the VRAM too, so a mapping that outlives the
// display stays valid.
class FramebufferRegion final : public BusDevice {
 public:
  FramebufferRegion(std::shared_ptr<Vram> vram, std::weak_ptr<BochsDisplay> display)
      : vram_(std::move(vram)), display_(std::move(display)) {}

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    if (inside(offset, data.size())) {
      std::memcpy(data.data(), vram_->data() + offset, data.size());
    } else {
      std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    }
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    if (inside(offset, data.size())) std::memcpy(vram_->data() + offset, data.data(), data.size());
  }
  void bar_moved(const pci::PciBarMapping& mapping, bool mapped) {
    if (auto display = display_.lock()) display->framebuffer_bar_moved(mapping, mapped);
  }

 private:
  [[nodiscard]] bool inside(std::uint64_t offset, std::uint64_t size) const {
    return offset <= vram_->size() && size <= vram_->size() - offset;
  }
  std::shared_ptr<Vram> vram_;
  std::weak_ptr<BochsDisplay> display_;
};

// BAR 2 and the legacy ports: forward to the display while it exists (a
// mapping may be the last reference during teardown; then reads are all ones).
class MmioRegion final : public BusDevice {
 public:
  explicit MmioRegion(std::weak_ptr<BochsDisplay> display) : display_(std::move(display)) {}
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    if (auto display = display_.lock()) {
      display->mmio_read(offset, data);
    } else {
      std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    }
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    if (auto display = display_.lock()) display->mmio_write(offset, data);
  }

 private:
  std::weak_ptr<BochsDisplay> display_;
};

class LegacyPorts final : public BusDevice {
 public:
  explicit LegacyPorts(std::weak_ptr<BochsDisplay> display) : display_(std::move(display)) {}
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    if (auto display = display_.lock()) {
      display->port_read(offset, data);
    } else {
      std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    }
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    if (auto display = display_.lock()) display->port_write(offset, data);
  }

 private:
  std::weak_ptr<BochsDisplay> display_;
};

}  // namespace

BochsDisplay::BochsDisplay(const BochsDisplayConfig& config)
    : pci::PciFunction(pci::PciIdentity{kVendorId, kDeviceId, kRevision, kClassCode,
                                        kSubsystemVendorId, kSubsystemId, pci::kInterruptPinNone}),
      vram_(std::make_shared<Vram>(config.vram_size)),
      dispi_(config.vram_size),
      edid_config_(config.edid),
      edid_(build_edid(config.edid, config.vram_size)) {
  define_bar(kFramebufferBar,
             pci::PciBarDefinition{pci::PciBarKind::Memory32, vram_->size(), true});
  define_bar(kMmioBar, pci::PciBarDefinition{pci::PciBarKind::Memory32, kMmioBarSize, false});
}

// The mapper is not called here: the machine removes the memory slot (or
// destroys the VM) before it lets go of the display.
BochsDisplay::~BochsDisplay() = default;

std::shared_ptr<BusDevice> BochsDisplay::bar_region(std::uint8_t index) {
  if (index == kFramebufferBar) return std::make_shared<FramebufferRegion>(vram_, weak_from_this());
  if (index == kMmioBar) return std::make_shared<MmioRegion>(weak_from_this());
  return nullptr;
}

std::shared_ptr<BusDevice> BochsDisplay::legacy_dispi_ports() {
  return std::make_shared<LegacyPorts>(weak_from_this());
}

void BochsDisplay::set_mode_listener(ModeListener listener) {
  const std::lock_guard events(event_mutex_);
  listener_ = std::move(listener);
}

template <typename Change>
void BochsDisplay::change_state(Change&& change) {
  const std::lock_guard events(event_mutex_);
  std::optional<DisplayMode> before;
  std::optional<DisplayMode> after;
  {
    const std::lock_guard lock(state_mutex_);
    before = visible_locked();
    change();
    after = visible_locked();
  }
  // Outside the state lock: the listener may ask for visible_mode() or take
  // a screenshot. Still under the event lock, so events arrive in order.
  if (before != after && listener_) listener_(after);
}

std::optional<DisplayMode> BochsDisplay::visible_locked() const {
  if ((vga_.attribute_index & kAttributePictureOn) == 0) return std::nullopt;
  return dispi_.mode();
}

std::optional<DisplayMode> BochsDisplay::visible_mode() const {
  const std::lock_guard lock(state_mutex_);
  return visible_locked();
}

EdidBlock BochsDisplay::edid() const {
  const std::lock_guard lock(state_mutex_);
  return edid_;
}

void BochsDisplay::apply_effect(const dispi::WriteEffect& effect) {
  // The registers only produce ranges of a mode that fits the VRAM.
  if (effect.clear_length != 0) std::memset(vram_->data() + effect.clear_offset, 0, effect.clear_length);
}

void BochsDisplay::set_initial_mode(std::uint32_t width, std::uint32_t height) {
  if (width == 0 || height == 0 || width > dispi::kMaxWidth || height > dispi::kMaxHeight ||
      std::uint64_t{width} * height * 4 > vram_->size()) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "the initial display mode " + std::to_string(width) + "x" +
                           std::to_string(height) + " does not fit in video memory");
  }
  change_state([&] {
    // The same sequence a driver writes, ending enabled without clearing.
    dispi_.write(dispi::kIndexEnable, 0);
    dispi_.write(dispi::kIndexBpp, 32);
    dispi_.write(dispi::kIndexXres, static_cast<std::uint16_t>(width));
    dispi_.write(dispi::kIndexYres, static_cast<std::uint16_t>(height));
    dispi_.write(dispi::kIndexBank, 0);
    dispi_.write(dispi::kIndexEnable, dispi::kEnabled | dispi::kLfbEnabled | dispi::kNoClearMem);
    dispi_.set_big_endian(false);
    vga_.attribute_index |= kAttributePictureOn;
  });
}

FramebufferDescription BochsDisplay::boot_framebuffer(std::uint64_t bar0_address) const {
  const std::lock_guard lock(state_mutex_);
  const std::optional<DisplayMode>& mode = dispi_.mode();
  if (!mode || mode->bpp != 32 || mode->big_endian) {
    throw NestboxError(ErrorCode::InvalidState, "the display is not in a 32-bpp linear mode");
  }
  return FramebufferDescription{bar0_address + mode->offset, vram_->size() - mode->offset,
                                mode->width, mode->height, mode->stride};
}

std::optional<std::vector<std::uint8_t>> BochsDisplay::screenshot_png() const {
  const std::optional<DisplayMode> mode = visible_mode();
  if (!mode) return std::nullopt;
  return encode_framebuffer_png(*mode, vram_->bytes());
}

std::uint8_t BochsDisplay::vga_read(std::uint16_t port) {
  switch (port) {
    case kAttributeAddressData: return vga_.attribute_index;
    case kAttributeDataRead: {
      const std::uint8_t index = vga_.attribute_index & kAttributeIndexMask;
      return index < vga_.attribute.size() ? vga_.attribute[index] : 0;
    }
    case kMiscOutputRead: return vga_.misc_output;
    case kInputStatusMono:
    case kInputStatusColour:
      // Reading input status resets the attribute flip-flop to "index"; the
      // retrace bits alternate so a driver waiting for either edge moves on.
      vga_.attribute_flip_flop = false;
      retrace_phase_ ^= 1;
      return retrace_phase_ != 0 ? kInRetrace : 0;
    default: return 0;
  }
}

void BochsDisplay::vga_write(std::uint16_t port, std::uint8_t value) {
  switch (port) {
    case kAttributeAddressData:
      if (!vga_.attribute_flip_flop) {
        vga_.attribute_index = value & 0x3f;  // index and the picture-on bit
      } else {
        const std::uint8_t index = vga_.attribute_index & kAttributeIndexMask;
        if (index < vga_.attribute.size()) vga_.attribute[index] = value;
      }
      vga_.attribute_flip_flop = !vga_.attribute_flip_flop;
      break;
    case kMiscOutputWrite: vga_.misc_output = value; break;
    default: break;  // sequencer, CRTC, DAC...: nothing here depends on them
  }
}

std::uint8_t BochsDisplay::mmio_read_byte(std::uint64_t offset) {
  if (offset < kEdidWindowSize) return offset < edid_.size() ? edid_[offset] : 0;
  if (offset >= kVgaOffset && offset < kVgaEnd) {
    return vga_read(static_cast<std::uint16_t>(kVgaFirstPort + (offset - kVgaOffset)));
  }
  if (offset >= kDispiOffset && offset < kDispiEnd) {
    const std::uint16_t value = dispi_.read(static_cast<std::uint16_t>((offset - kDispiOffset) / 2));
    return static_cast<std::uint8_t>(offset % 2 == 0 ? value : value >> 8);
  }
  if (offset >= kQextOffset && offset < kQextEnd) {
    const std::uint32_t word =
        offset < kQextByteOrderOffset
            ? kQextSize
            : (dispi_.big_endian() ? kBigEndianMagic : kLittleEndianMagic);
    return static_cast<std::uint8_t>(word >> (8 * (offset % 4)));
  }
  return 0;
}

void BochsDisplay::mmio_read(std::uint64_t offset, std::span<std::uint8_t> data) {
  const std::lock_guard lock(state_mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = mmio_read_byte(offset + i);
}

void BochsDisplay::dispi_write_partial(std::uint16_t index, std::uint64_t first_byte,
                                       std::span<const std::uint8_t> bytes) {
  // A byte write changes half a register: merge with the stored value (not
  // with what a read returns, which GETCAPS may replace).
  std::uint16_t value = dispi_.registers()[index];
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::uint64_t shift = 8 * (first_byte + i);
    value = static_cast<std::uint16_t>((value & ~(0xffu << shift)) | (std::uint32_t{bytes[i]} << shift));
  }
  apply_effect(dispi_.write(index, value));
}

void BochsDisplay::mmio_write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  change_state([&] {
    std::size_t i = 0;
    while (i < data.size()) {
      const std::uint64_t at = offset + i;
      if (at >= kVgaOffset && at < kVgaEnd) {
        vga_write(static_cast<std::uint16_t>(kVgaFirstPort + (at - kVgaOffset)), data[i]);
        ++i;
      } else if (at >= kDispiOffset && at < kDispiEnd) {
        // One register write per 16-bit register the access covers.
        const auto index = static_cast<std::uint16_t>((at - kDispiOffset) / 2);
        const std::uint64_t first_byte = (at - kDispiOffset) % 2;
        const std::size_t count = std::min<std::size_t>(2 - first_byte, data.size() - i);
        dispi_write_partial(index, first_byte, data.subspan(i, count));
        i += count;
      } else if (at == kQextByteOrderOffset && data.size() - i >= 4) {
        // Only the two magic values mean anything; others leave it as it is.
        const std::uint32_t value = little_endian(data.subspan(i, 4));
        if (value == kLittleEndianMagic) dispi_.set_big_endian(false);
        if (value == kBigEndianMagic) dispi_.set_big_endian(true);
        i += 4;
      } else {
        ++i;  // EDID, the size register and unassigned offsets are read-only
      }
    }
  });
}

void BochsDisplay::port_read(std::uint64_t offset, std::span<std::uint8_t> data) {
  const std::lock_guard lock(state_mutex_);
  if (offset == 0) {
    fill_little_endian(data, port_index_, 2);
  } else if (offset == 1) {
    fill_little_endian(data, dispi_.read(port_index_), 2);
  } else {
    std::fill(data.begin(), data.end(), std::uint8_t{0xff});
  }
}

void BochsDisplay::port_write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (data.empty() || data.size() > 2) return;  // the ports are 8 or 16 bits wide
  const auto value = static_cast<std::uint16_t>(little_endian(data));
  if (offset == 0) {
    const std::lock_guard lock(state_mutex_);
    port_index_ = value;
  } else if (offset == 1) {
    change_state([&] { apply_effect(dispi_.write(port_index_, value)); });
  }
}

void BochsDisplay::set_framebuffer_mapper(FramebufferMapper* mapper) {
  const std::lock_guard lock(mapper_mutex_);
  if (mapped_at_ && mapper_ != nullptr) mapper_->unmap_framebuffer(*mapped_at_, vram_->size());
  mapped_at_.reset();
  mapper_ = mapper;
  if (mapper_ != nullptr && decoding_) {
    mapper_->map_framebuffer(decoding_->address, vram_->data(), vram_->size());
    mapped_at_ = decoding_->address;
  }
}

void BochsDisplay::framebuffer_bar_moved(const pci::PciBarMapping& mapping, bool mapped) {
  if (mapping.bar != kFramebufferBar || mapping.size != vram_->size()) return;
  const std::lock_guard lock(mapper_mutex_);
  if (mapped) {
    decoding_ = mapping;
  } else if (decoding_ && decoding_->address == mapping.address) {
    decoding_.reset();
  }
  const std::optional<std::uint64_t> wanted =
      mapper_ != nullptr && decoding_ ? std::optional(decoding_->address) : std::nullopt;
  if (wanted == mapped_at_) return;
  if (mapped_at_ && mapper_ != nullptr) mapper_->unmap_framebuffer(*mapped_at_, vram_->size());
  mapped_at_.reset();
  if (wanted) {
    mapper_->map_framebuffer(*wanted, vram_->data(), vram_->size());
    mapped_at_ = wanted;
  }
}

std::optional<std::uint64_t> BochsDisplay::framebuffer_mapped_at() const {
  const std::lock_guard lock(mapper_mutex_);
  return mapped_at_;
}

BochsDisplayState BochsDisplay::save() const {
  BochsDisplayState state;
  state.function = save_function();
  const std::lock_guard lock(state_mutex_);
  state.vram_size = vram_->size();
  state.dispi = dispi_.registers();
  state.big_endian = dispi_.big_endian();
  state.port_index = port_index_;
  state.vga = vga_;
  state.edid = edid_config_;
  return state;
}

void BochsDisplay::restore(const BochsDisplayState& state) {
  if (state.vram_size != vram_->size()) {
    throw NestboxError(ErrorCode::InvalidState,
                       "the saved display had " + std::to_string(state.vram_size) +
                           " bytes of video memory, this one has " + std::to_string(vram_->size()));
  }
  const EdidBlock edid = build_edid(state.edid, vram_->size());
  change_state([&] {
    dispi_.restore(state.dispi, state.big_endian);
    vga_ = state.vga;
    vga_.attribute_index &= 0x3f;
    port_index_ = state.port_index;
    edid_config_ = state.edid;
    edid_ = edid;
  });
  restore_function(state.function);
}

bool route_framebuffer_bar(const pci::PciBarMapping& mapping, bool mapped) {
  auto* region = dynamic_cast<FramebufferRegion*>(mapping.region.get());
  if (region == nullptr) return false;
  region->bar_moved(mapping, mapped);
  return true;
}

}  // namespace nestbox::display
