// The GSI routing table of a PC: which in-kernel interrupt controller pins a
// global system interrupt number drives. Pure data, unit-tested.
//
// ISA IRQs 0-15 drive both the PIC pair (master 0-7, slave 8-15) and the
// IOAPIC pin of the same number, except that the timer (GSI 0, where KVM's
// PIT injects) reaches IOAPIC pin 2, as on real boards and as the MADT's
// interrupt source override "ISA IRQ 0 → GSI 2" tells the guest. IRQ 2 is the
// PIC cascade and is not routed. GSIs 16-23 are IOAPIC-only (PCI INTx).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace nestbox::kvm {

inline constexpr std::uint32_t kIoapicPins = 24;
inline constexpr std::uint32_t kIsaIrqs = 16;
inline constexpr std::uint32_t kTimerIoapicPin = 2;

std::vector<kvm_irq_routing_entry> default_gsi_routes();

}  // namespace nestbox::kvm
