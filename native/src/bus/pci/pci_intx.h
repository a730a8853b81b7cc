// Legacy INTx wiring of our root bus. Four IOAPIC inputs (GSI 16-19) carry
// INTA#-INTD#; device d's pin p reaches GSI 16 + (d + p) mod 4 — the same
// rotation a PCI-to-PCI bridge applies ("swizzle"), so neighbouring slots
// spread over the four lines. The ACPI _PRT (pci_acpi.h) publishes exactly
// this table, so the guest never has to guess.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "devices/interrupt_line.h"

namespace nestbox::pci {

inline constexpr std::uint32_t kIntxFirstGsi = 16;
inline constexpr std::uint32_t kIntxLineCount = 4;

// `pin` is 0 for INTA# .. 3 for INTD#.
constexpr std::uint8_t swizzle_intx_pin(std::uint8_t device, std::uint8_t pin) {
  return static_cast<std::uint8_t>((device + pin) % kIntxLineCount);
}
constexpr std::uint32_t intx_gsi(std::uint8_t device, std::uint8_t pin) {
  return kIntxFirstGsi + swizzle_intx_pin(device, pin);
}

// Level-triggered INTx lines are shared, wire-OR: the IOAPIC input stays
// asserted while any function on it asserts. Each function gets its own
// input from make_input().
class WiredOrInterruptLine : public std::enable_shared_from_this<WiredOrInterruptLine> {
 public:
  explicit WiredOrInterruptLine(std::shared_ptr<InterruptLine> output)
      : output_(std::move(output)) {}

  std::shared_ptr<InterruptLine> make_input();

 private:
  class Input;
  void change(int delta);

  std::mutex mutex_;
  std::shared_ptr<InterruptLine> output_;
  int asserted_inputs_ = 0;
};

}  // namespace nestbox::pci
