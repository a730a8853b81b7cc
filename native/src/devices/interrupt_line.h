// A wire from a device to the machine's interrupt controller. Devices raise and
// lower it and never learn how it is delivered (on the VMM: an irqfd into
// KVM's in-kernel IOAPIC/PIC; in unit tests: a recording fake).
#pragma once

namespace nestbox {

class InterruptLine {
 public:
  virtual ~InterruptLine() = default;

  // Level-triggered use: the line stays asserted until the device lowers it
  // (e.g. a UART with pending interrupt causes, the ACPI SCI).
  virtual void set_level(bool asserted) = 0;

  // Edge-triggered use: one interrupt (e.g. the RTC's IRQ 8 on the ISA bus).
  virtual void pulse() {
    set_level(true);
    set_level(false);
  }
};

}  // namespace nestbox
