#include "devices/display/dispi.h"

#include <algorithm>

namespace nestbox::display::dispi {

namespace {

constexpr std::uint64_t k64KiB = 64 * 1024;

constexpr bool supported_bpp(std::uint16_t bpp) { return bpp == 16 || bpp == 24 || bpp == 32; }

}  // namespace

DispiRegisters::DispiRegisters(std::uint64_t vram_size) : vram_size_(vram_size) {
  regs_[kIndexId] = kId5;
  regs_[kIndexVideoMemory64k] = static_cast<std::uint16_t>(vram_size / k64KiB);
}

std::optional<DisplayMode> DispiRegisters::layout(const Registers& regs) const {
  const std::uint16_t bpp = regs[kIndexBpp];
  const std::uint16_t xres = regs[kIndexXres];
  const std::uint16_t yres = regs[kIndexYres];
  if (!supported_bpp(bpp) || xres == 0 || xres > kMaxWidth || yres == 0 || yres > kMaxHeight) {
    return std::nullopt;
  }
  DisplayMode mode;
  mode.width = xres;
  mode.height = yres;
  mode.bpp = bpp;
  mode.big_endian = big_endian_;
  const std::uint32_t bytes = mode.bytes_per_pixel();
  mode.stride = std::max<std::uint32_t>(regs[kIndexVirtWidth], xres) * bytes;
  if (mode.span_bytes() > vram_size_) return std::nullopt;
  // Pull an overshooting window back inside video memory, on a pixel boundary.
  const std::uint64_t start = std::uint64_t{regs[kIndexYOffset]} * mode.stride +
                              std::uint64_t{regs[kIndexXOffset]} * bytes;
  const std::uint64_t last_start = vram_size_ - mode.span_bytes();
  mode.offset = start <= last_start ? start : last_start - last_start % bytes;
  return mode;
}

std::uint16_t DispiRegisters::max_virtual_height(const Registers& regs) const {
  const std::uint16_t bpp = regs[kIndexBpp];
  const std::uint32_t width = std::max(regs[kIndexVirtWidth], regs[kIndexXres]);
  if (!supported_bpp(bpp) || width == 0) return 0;
  return static_cast<std::uint16_t>(
      std::min<std::uint64_t>(vram_size_ / (std::uint64_t{width} * (bpp / 8)), 0xffff));
}

std::uint16_t DispiRegisters::read(std::uint16_t index) const {
  if (index >= kRegisterCount) return 0;
  if ((regs_[kIndexEnable] & kGetCaps) != 0) {
    // GETCAPS: firmware learns the limits by reading the mode registers.
    switch (index) {
      case kIndexXres: return kMaxWidth;
      case kIndexYres: return kMaxHeight;
      case kIndexBpp: return kMaxBpp;
      default: break;
    }
  }
  return regs_[index];
}

WriteEffect DispiRegisters::write(std::uint16_t index, std::uint16_t value) {
  Registers candidate = regs_;
  WriteEffect effect;
  switch (index) {
    case kIndexId:
      if (value >= kId0 && value <= kId5) regs_[kIndexId] = value;
      return effect;
    case kIndexXres:
      if (value == 0 || value > kMaxWidth) return effect;
      break;
    case kIndexYres:
      if (value == 0 || value > kMaxHeight) return effect;
      break;
    case kIndexBpp:
      if (!supported_bpp(value)) return effect;
      break;
    case kIndexBank:
      if (value < regs_[kIndexVideoMemory64k]) regs_[kIndexBank] = value;
      return effect;
    case kIndexVirtWidth:
    case kIndexXOffset:
    case kIndexYOffset:
      break;
    case kIndexVirtHeight: {
      const std::uint16_t limit = max_virtual_height(regs_);
      regs_[kIndexVirtHeight] = limit == 0 ? value : std::min(value, limit);
      return effect;
    }
    case kIndexEnable:
      if ((value & kEnabled) != 0 && !enabled()) {
        // Turning the mode on starts from a plain layout (Bochs and QEMU do
        // the same; drivers set the virtual size and offsets afterwards).
        candidate[kIndexVirtWidth] = candidate[kIndexXres];
        candidate[kIndexXOffset] = 0;
        candidate[kIndexYOffset] = 0;
        candidate[kIndexEnable] = value;
        const std::optional<DisplayMode> mode = layout(candidate);
        if (!mode) return effect;  // refused: the mode does not fit
        candidate[kIndexVirtHeight] = max_virtual_height(candidate);
        if ((value & kNoClearMem) == 0) {
          effect.clear_offset = mode->offset;
          effect.clear_length = mode->span_bytes();
        }
        regs_ = candidate;
        update_mode();
        return effect;
      }
      break;
    default:
      return effect;  // VIDEO_MEMORY_64K is read-only; unknown indices do nothing
  }
  candidate[index] = value;
  const bool geometry = index != kIndexEnable;
  if (geometry && enabled() && !layout(candidate)) return effect;  // refused
  if (geometry && index != kIndexXOffset && index != kIndexYOffset) {
    candidate[kIndexVirtHeight] = max_virtual_height(candidate);
  }
  regs_ = candidate;
  update_mode();
  return effect;
}

void DispiRegisters::set_big_endian(bool big_endian) {
  big_endian_ = big_endian;
  update_mode();
}

void DispiRegisters::restore(const Registers& registers, bool big_endian) {
  regs_ = registers;
  regs_[kIndexVideoMemory64k] = static_cast<std::uint16_t>(vram_size_ / k64KiB);
  big_endian_ = big_endian;
  if (enabled() && !layout(regs_)) regs_[kIndexEnable] &= static_cast<std::uint16_t>(~kEnabled);
  update_mode();
}

void DispiRegisters::update_mode() {
  mode_ = enabled() ? layout(regs_) : std::nullopt;
}

}  // namespace nestbox::display::dispi
