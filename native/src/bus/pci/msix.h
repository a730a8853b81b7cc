// MSI-X (PCI 3.0, 6.8.2): the capability in config space, the vector table
// and the pending-bit array a device keeps in one of its BARs, and delivery
// through an MsiSink. A vector delivers only while MSI-X is enabled, the
// function is not masked and the vector's entry is not masked; otherwise its
// pending bit is set and the message goes out when it is unmasked.
//
// Thread-safe: the table is written by vCPUs while devices raise vectors from
// the I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "bus/pci/msi_sink.h"
#include "bus/pci/pci_config_space.h"

namespace nestbox::pci {

inline constexpr std::uint16_t kMsixMaxVectors = 2048;
inline constexpr std::uint64_t kMsixEntrySize = 16;
inline constexpr std::uint16_t kMsixControlEnable = 1 << 15;
inline constexpr std::uint16_t kMsixControlFunctionMask = 1 << 14;
inline constexpr std::uint32_t kMsixEntryMasked = 1;  // vector control bit 0

struct MsixCapabilityLayout {
  std::uint16_t vector_count = 1;
  std::uint8_t table_bar = 0;
  std::uint32_t table_offset = 0;  // 8-byte aligned
  std::uint8_t pba_bar = 0;
  std::uint32_t pba_offset = 0;  // 8-byte aligned
};

// Adds the capability (message control's enable and function-mask bits are
// the only guest-writable ones) and returns its offset in config space.
std::uint8_t add_msix_capability(PciConfigSpace& config, const MsixCapabilityLayout& layout);
inline constexpr std::uint16_t kMsixMessageControlOffset = 2;  // from the capability

struct MsixState {
  std::vector<std::uint8_t> table;  // 16 bytes per vector, as the guest wrote them
  std::vector<bool> pending;
  bool enabled = false;
  bool function_masked = false;
};

class MsixVectors {
 public:
  // 1..2048 vectors, all masked, as after reset.
  explicit MsixVectors(std::uint16_t count);

  void set_sink(std::shared_ptr<MsiSink> sink);
  [[nodiscard]] std::uint16_t count() const { return count_; }
  [[nodiscard]] std::uint64_t table_size() const { return kMsixEntrySize * count_; }
  [[nodiscard]] std::uint64_t pba_size() const { return 8 * ((count_ + 63) / 64); }

  // Guest accesses at offsets inside the table / PBA (any width; outside
  // bytes read as zero). The PBA is read-only.
  void table_read(std::uint64_t offset, std::span<std::uint8_t> data) const;
  void table_write(std::uint64_t offset, std::span<const std::uint8_t> data);
  void pba_read(std::uint64_t offset, std::span<std::uint8_t> data) const;

  // The message control bits, mirrored from config space on every write.
  void set_control(std::uint16_t message_control);
  [[nodiscard]] bool enabled() const;

  // Raises `vector` (out-of-range vectors are ignored: they are guest values).
  void notify(std::uint16_t vector);

  [[nodiscard]] MsixState save() const;
  void restore(const MsixState& state);  // throws NestboxError on a size mismatch

 private:
  [[nodiscard]] bool entry_masked(std::uint16_t vector) const;
  [[nodiscard]] MsiMessage message(std::uint16_t vector) const;
  void deliver_unmasked_pending();  // lock held

  std::uint16_t count_;
  mutable std::mutex mutex_;
  std::shared_ptr<MsiSink> sink_;
  MsixState state_;
};

}  // namespace nestbox::pci
