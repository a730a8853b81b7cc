// Where a device's message-signalled interrupts go. The machine implements it
// with KVM_SIGNAL_MSI (or an irqfd bound to an MSI route); devices only ever
// see this interface, and tests record the messages.
#pragma once

#include <cstdint>

namespace nestbox::pci {

struct MsiMessage {
  std::uint64_t address = 0;
  std::uint32_t data = 0;
  friend bool operator==(const MsiMessage&, const MsiMessage&) = default;
};

class MsiSink {
 public:
  virtual ~MsiSink() = default;
  // Called from whichever thread raises the interrupt (vCPU or I/O thread).
  virtual void send_msi(const MsiMessage& message) = 0;
};

}  // namespace nestbox::pci
