// One PCI function on our root bus: its configuration space, BARs and INTx
// pin. The base class does everything the PCI spec defines generically —
// header, masks, BAR sizing and decoding, INTx with the disable bit and the
// status bit — so a device (virtio-pci, the host bridge) only declares its
// IDs, BARs and capabilities and provides the regions behind its BARs.
//
// BAR decoding: whenever the command register or a BAR changes, the function
// compares what should decode now with what did, and tells the PciBarMapper
// (unmap the old range, map the new one). A BAR at address 0, or one whose
// range would wrap, does not decode.
//
// Locking: config accesses take the function's config lock; the mapper and the
// subclass hooks run under it, so they must not re-enter config accesses.
// INTx has its own lock, so a device may raise INTx from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "bus/pci/pci_address.h"
#include "bus/pci/pci_bar.h"
#include "bus/pci/pci_config_space.h"
#include "devices/interrupt_line.h"

namespace nestbox::pci {

struct PciIdentity {
  std::uint16_t vendor_id = 0;
  std::uint16_t device_id = 0;
  std::uint8_t revision = 0;
  std::uint32_t class_code = 0;  // base class << 16 | subclass << 8 | programming interface
  std::uint16_t subsystem_vendor_id = 0;
  std::uint16_t subsystem_id = 0;
  std::uint8_t interrupt_pin = kInterruptPinNone;  // 1 = INTA#
};

struct PciFunctionState {
  std::array<std::uint8_t, kExtendedConfigSpaceSize> config{};
  bool intx_level = false;
};

class PciFunction {
 public:
  explicit PciFunction(const PciIdentity& identity);
  virtual ~PciFunction() = default;
  PciFunction(const PciFunction&) = delete;
  PciFunction& operator=(const PciFunction&) = delete;

  // Called once by the root complex when the function is plugged in. `mapper`
  // must outlive the function's use; `intx` may be null (no INTx wiring).
  void connect(PciAddress address, PciBarMapper* mapper, std::shared_ptr<InterruptLine> intx);
  [[nodiscard]] PciAddress address() const { return address_; }
  [[nodiscard]] std::uint8_t interrupt_pin() const { return interrupt_pin_; }

  // Guest configuration accesses (offset < 4096, any width; the root complex
  // limits the 0xCF8 path to the first 256 bytes).
  void config_read(std::uint16_t offset, std::span<std::uint8_t> data);
  void config_write(std::uint16_t offset, std::span<const std::uint8_t> data);

  [[nodiscard]] const PciBarDefinition& bar_definition(std::uint8_t index) const;
  // What firmware would do before the OS runs (we boot kernels directly):
  // place a BAR, turn on decoding, fill in the interrupt line register.
  void program_bar(std::uint8_t index, std::uint64_t address);
  void enable_decoding();
  void set_interrupt_line_register(std::uint8_t line);
  // The address programmed in a BAR now (whether or not it decodes).
  [[nodiscard]] std::uint64_t bar_address(std::uint8_t index) const;
  // Where a BAR decodes now, if it does.
  [[nodiscard]] std::optional<PciBarMapping> bar_mapping(std::uint8_t index) const;

  // The function's INTx output (level). Ignored without an interrupt pin.
  void set_intx_level(bool asserted);

  [[nodiscard]] PciFunctionState save_function() const;
  // Restores config space and INTx and re-maps BARs to match.
  void restore_function(const PciFunctionState& state);

 protected:
  // Setup in the subclass constructor (before connect(); no lock needed).
  PciConfigSpace& config() { return config_; }
  void define_bar(std::uint8_t index, const PciBarDefinition& definition);

  // The device behind a BAR (asked once per BAR, when it first decodes).
  virtual std::shared_ptr<BusDevice> bar_region(std::uint8_t index) = 0;
  // Hooks with the config lock held: react to a guest write (e.g. the MSI-X
  // enable bit), or patch what a guest read returns.
  virtual void after_config_write(std::uint16_t /*offset*/, std::size_t /*size*/) {}
  virtual void after_config_read(std::uint16_t /*offset*/, std::span<std::uint8_t> /*data*/) {}
  // Config space as the hooks see it (config lock already held).
  [[nodiscard]] const PciConfigSpace& config_locked() const { return config_; }

 private:
  std::optional<PciBarMapping> desired_mapping(std::uint8_t index);
  void update_bar_mappings();  // config lock held
  void update_intx_disable();  // config lock held
  void drive_intx_line();      // intx lock held

  mutable std::mutex config_mutex_;
  PciConfigSpace config_;
  std::array<PciBarDefinition, kBarCount> bars_{};
  std::array<std::shared_ptr<BusDevice>, kBarCount> regions_{};
  std::array<std::optional<PciBarMapping>, kBarCount> mapped_{};
  PciAddress address_{};
  PciBarMapper* mapper_ = nullptr;
  std::uint8_t interrupt_pin_ = kInterruptPinNone;

  mutable std::mutex intx_mutex_;
  std::shared_ptr<InterruptLine> intx_line_;
  bool intx_level_ = false;
  bool intx_disabled_ = false;
  bool intx_line_asserted_ = false;
};

}  // namespace nestbox::pci
