#include "kvm/gsi_routing.h"

namespace nestbox::kvm {

namespace {

kvm_irq_routing_entry irqchip_route(std::uint32_t gsi, std::uint32_t chip, std::uint32_t pin) {
  kvm_irq_routing_entry entry{};
  entry.gsi = gsi;
  entry.type = KVM_IRQ_ROUTING_IRQCHIP;
  entry.u.irqchip.irqchip = chip;
  entry.u.irqchip.pin = pin;
  return entry;
}

}  // namespace

std::vector<kvm_irq_routing_entry> default_gsi_routes() {
  std::vector<kvm_irq_routing_entry> routes;
  for (std::uint32_t gsi = 0; gsi < kIoapicPins; ++gsi) {
    if (gsi == 2) {
      continue;  // the PIC cascade; the timer owns IOAPIC pin 2 (via GSI 0)
    }
    if (gsi < 8) {
      routes.push_back(irqchip_route(gsi, KVM_IRQCHIP_PIC_MASTER, gsi));
    } else if (gsi < kIsaIrqs) {
      routes.push_back(irqchip_route(gsi, KVM_IRQCHIP_PIC_SLAVE, gsi - 8));
    }
    routes.push_back(irqchip_route(gsi, KVM_IRQCHIP_IOAPIC, gsi == 0 ? kTimerIoapicPin : gsi));
  }
  return routes;
}

}  // namespace nestbox::kvm
