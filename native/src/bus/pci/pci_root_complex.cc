#include "bus/pci/pci_root_complex.h"

#include <algorithm>
#include <string>

#include "bus/pci/pci_abi.h"
#include "bus/pci/pci_host_bridge.h"
#include "common/nestbox_error.h"

namespace nestbox::pci {

PciRootComplex::PciRootComplex(
    PciBarMapper& mapper, std::array<std::shared_ptr<InterruptLine>, kIntxLineCount> intx_gsi_lines)
    : mapper_(mapper) {
  for (std::size_t i = 0; i < kIntxLineCount; ++i) {
    intx_wires_[i] = std::make_shared<WiredOrInterruptLine>(std::move(intx_gsi_lines[i]));
  }
  auto bridge = std::make_shared<PciHostBridge>();
  bridge->connect(PciAddress{0, 0, 0}, &mapper_, nullptr);
  devices_[0] = std::move(bridge);
}

void PciRootComplex::add_device(std::uint8_t device, std::shared_ptr<PciFunction> function) {
  if (device == 0 || device >= kDevicesPerBus || !function || devices_[device]) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "PCI slot " + std::to_string(device) + " is invalid or already taken");
  }
  std::shared_ptr<InterruptLine> intx;
  if (function->interrupt_pin() != kInterruptPinNone) {
    const std::uint8_t pin = static_cast<std::uint8_t>((function->interrupt_pin() - 1) & 3);
    intx = intx_wires_[swizzle_intx_pin(device, pin)]->make_input();
  }
  function->connect(PciAddress{0, device, 0}, &mapper_, std::move(intx));
  devices_[device] = std::move(function);
}

std::shared_ptr<PciFunction> PciRootComplex::function(PciAddress address) const {
  if (address.bus != 0 || address.device >= kDevicesPerBus || address.function != 0) {
    return nullptr;
  }
  return devices_[address.device];
}

void PciRootComplex::assign_resources(PciBarAllocator& allocator) {
  for (std::uint8_t device = 0; device < kDevicesPerBus; ++device) {
    const std::shared_ptr<PciFunction>& function = devices_[device];
    if (!function) continue;
    // Largest first, so natural alignment wastes the least space.
    std::vector<std::uint8_t> order;
    for (std::uint8_t bar = 0; bar < kBarCount; ++bar) {
      if (function->bar_definition(bar).size != 0) order.push_back(bar);
    }
    std::stable_sort(order.begin(), order.end(), [&](std::uint8_t a, std::uint8_t b) {
      return function->bar_definition(a).size > function->bar_definition(b).size;
    });
    for (std::uint8_t bar : order) {
      const PciBarDefinition& definition = function->bar_definition(bar);
      function->program_bar(bar, allocator.allocate(definition.kind, definition.size));
    }
    function->enable_decoding();
    if (function->interrupt_pin() != kInterruptPinNone) {
      const auto pin = static_cast<std::uint8_t>((function->interrupt_pin() - 1) & 3);
      function->set_interrupt_line_register(static_cast<std::uint8_t>(intx_gsi(device, pin)));
    }
  }
}

void PciRootComplex::config_read(PciAddress address, std::uint16_t offset,
                                 std::span<std::uint8_t> data) const {
  const std::shared_ptr<PciFunction> target = function(address);
  if (!target || offset + data.size() > kExtendedConfigSpaceSize) {
    std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    return;
  }
  target->config_read(offset, data);
}

void PciRootComplex::config_write(PciAddress address, std::uint16_t offset,
                                  std::span<const std::uint8_t> data) {
  const std::shared_ptr<PciFunction> target = function(address);
  if (!target || offset + data.size() > kExtendedConfigSpaceSize) return;
  target->config_write(offset, data);
}

std::vector<PciInterruptRoute> PciRootComplex::interrupt_routes() const {
  std::vector<PciInterruptRoute> routes;
  for (std::uint8_t device = 0; device < kDevicesPerBus; ++device) {
    for (std::uint8_t pin = 0; pin < kIntxLineCount; ++pin) {
      routes.push_back(PciInterruptRoute{device, pin, intx_gsi(device, pin)});
    }
  }
  return routes;
}

}  // namespace nestbox::pci
