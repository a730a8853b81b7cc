// The display's video memory: host memory the device owns, shared with the
// guest. A memfd mapped once, shared, so that (1) the machine can hand the
// mapping to KVM as a memory slot at BAR 0 — guest framebuffer stores then
// cost no exit — and (2) the snapshot layer can save it like guest RAM
// (fd()/bytes()). Pages are allocated when first touched.
#pragma once

#include <cstdint>
#include <span>

#include "common/unique_fd.h"

namespace nestbox::display {

inline constexpr std::uint64_t kMinVramSize = 1ull << 20;    // 1 MiB
inline constexpr std::uint64_t kMaxVramSize = 256ull << 20;  // 256 MiB: half the PCI MMIO window
inline constexpr std::uint64_t kDefaultVramSize = 16ull << 20;

class Vram {
 public:
  // `size`: a power of two in [kMinVramSize, kMaxVramSize] (a BAR's size must
  // be a power of two). Throws NestboxError: InvalidConfig for a bad size,
  // GuestMemory when the host cannot provide it.
  explicit Vram(std::uint64_t size);
  ~Vram();
  Vram(const Vram&) = delete;
  Vram& operator=(const Vram&) = delete;

  [[nodiscard]] std::uint64_t size() const { return size_; }
  [[nodiscard]] std::uint8_t* data() const { return mapping_; }
  [[nodiscard]] std::span<std::uint8_t> bytes() const { return {mapping_, size_}; }
  [[nodiscard]] int fd() const { return memfd_.get(); }

 private:
  UniqueFd memfd_;
  std::uint8_t* mapping_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace nestbox::display
