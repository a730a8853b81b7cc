#include "machine/pci_platform.h"

#include "bus/pci/mcfg.h"
#include "bus/pci/pci_acpi.h"
#include "bus/pci/pci_bar_allocator.h"
#include "bus/pci/pci_config_ports.h"
#include "bus/pci/pci_ecam.h"
#include "bus/pci/pci_layout.h"
#include "common/nestbox_error.h"
#include "devices/display/bochs_display.h"

namespace nestbox {

namespace {

// MSI-X messages go straight to KVM's in-kernel LAPICs.
class KvmMsiSink final : public pci::MsiSink {
 public:
  explicit KvmMsiSink(const kvm::KvmVm& vm) : vm_(vm) {}
  void send_msi(const pci::MsiMessage& message) override {
    // False means the guest had the vector masked in its LAPIC: as on
    // hardware, the message is simply not delivered.
    static_cast<void>(vm_.signal_msi(message.address, message.data));
  }

 private:
  const kvm::KvmVm& vm_;
};

// The 16-bit queue index a virtio driver writes to a queue's notify address.
constexpr std::uint32_t kNotifyWriteLength = 2;

}  // namespace

struct PciPlatform::VirtioSlot {
  std::shared_ptr<virtio::VirtioPciDevice> device;
  std::vector<EventFd> notify;                   // one per queue
  std::optional<std::uint64_t> registered_bar;   // where the ioeventfds are bound now
};

PciPlatform::PciPlatform(const kvm::KvmVm& vm, AddressBus& port_bus, AddressBus& mmio_bus,
                         std::array<std::shared_ptr<InterruptLine>, pci::kIntxLineCount> intx_lines)
    : vm_(vm),
      io_space_(std::make_shared<pci::PciBarSpace>("PCI I/O window", pci::kIoWindowBase,
                                                   pci::kIoWindowSize)),
      mmio_space_(std::make_shared<pci::PciBarSpace>("PCI MMIO window", pci::kMmioWindowBase,
                                                     pci::kMmioWindowSize)),
      router_(io_space_, mmio_space_),
      root_(std::make_shared<pci::PciRootComplex>(router_, std::move(intx_lines))),
      msi_sink_(std::make_shared<KvmMsiSink>(vm)),
      config_ports_(std::make_shared<pci::PciConfigPorts>(root_)) {
  router_.set_listener(
      [this](const pci::PciBarMapping& mapping, bool mapped) { on_bar_moved(mapping, mapped); });
  port_bus.attach(pci::kConfigAddressPort, pci::kConfigPortCount, config_ports_);
  port_bus.attach(pci::kIoWindowBase, pci::kIoWindowSize, io_space_);
  mmio_bus.attach(pci::kEcamBase, pci::kEcamSize, std::make_shared<pci::PciEcam>(root_));
  mmio_bus.attach(pci::kMmioWindowBase, pci::kMmioWindowSize, mmio_space_);
}

PciPlatform::~PciPlatform() {
  // Devices first (their workers may still complete requests), while the
  // router and sink they reach exist.
  for (auto& slot : virtio_) slot.reset();
}

std::shared_ptr<virtio::VirtioPciDevice> PciPlatform::add_virtio(
    std::uint8_t slot, std::unique_ptr<virtio::VirtioDevice> device, const GuestMemory& memory,
    Logger log) {
  auto function =
      std::make_shared<virtio::VirtioPciDevice>(std::move(device), memory, msi_sink_, std::move(log));
  auto entry = std::make_unique<VirtioSlot>();
  entry->device = function;
  entry->notify.resize(function->queue_count());
  root_->add_device(slot, function);  // validates the slot
  virtio_[slot] = std::move(entry);
  return function;
}

std::vector<std::pair<std::uint8_t, std::shared_ptr<virtio::VirtioPciDevice>>>
PciPlatform::virtio_functions() const {
  std::vector<std::pair<std::uint8_t, std::shared_ptr<virtio::VirtioPciDevice>>> functions;
  for (std::size_t slot = 0; slot < virtio_.size(); ++slot) {
    if (virtio_[slot]) functions.emplace_back(static_cast<std::uint8_t>(slot), virtio_[slot]->device);
  }
  return functions;
}

void PciPlatform::add_function(std::uint8_t slot, std::shared_ptr<pci::PciFunction> function) {
  root_->add_device(slot, std::move(function));
}

void PciPlatform::assign_resources() {
  pci::PciBarAllocator allocator;
  root_->assign_resources(allocator);
}

void PciPlatform::on_bar_moved(const pci::PciBarMapping& mapping, bool mapped) {
  // The display's framebuffer BAR moves its KVM memory slot with it.
  if (display::route_framebuffer_bar(mapping, mapped)) return;
  if (mapping.function.device >= virtio_.size() || mapping.bar != virtio::VirtioPciDevice::kBar) {
    return;
  }
  VirtioSlot* slot = virtio_[mapping.function.device].get();
  if (slot == nullptr) return;
  const auto bind = [&](std::uint64_t bar_address, bool assign) {
    for (const virtio::VirtioNotifyAddress& notify : slot->device->notify_addresses(bar_address)) {
      const int fd = slot->notify[notify.queue].fd();
      if (assign) {
        vm_.assign_ioeventfd(fd, notify.address, kNotifyWriteLength, false, std::nullopt);
      } else {
        vm_.deassign_ioeventfd(fd, notify.address, kNotifyWriteLength, false, std::nullopt);
      }
    }
  };
  if (slot->registered_bar) {
    bind(*slot->registered_bar, false);
    slot->registered_bar.reset();
  }
  if (mapped) {
    bind(mapping.address, true);
    slot->registered_bar = mapping.address;
  }
}

void PciPlatform::attach_io(IoThread& io, std::vector<int>& watched) {
  for (const auto& slot : virtio_) {
    if (!slot) continue;
    for (std::uint16_t queue = 0; queue < slot->notify.size(); ++queue) {
      const EventFd& event = slot->notify[queue];
      // The device is held weakly: the board unwatches these fds before it
      // goes, but a handler already running must not keep it alive by accident.
      io.watch(event.fd(), [&event, device = std::weak_ptr(slot->device), queue] {
        event.consume();
        if (auto strong = device.lock()) strong->notify_queue(queue);
      });
      watched.push_back(event.fd());
    }
  }
}

std::vector<std::uint8_t> PciPlatform::acpi_system_bus_terms() const {
  return pci::build_pci_acpi_terms(pci::PciAcpiConfig{}, root_->interrupt_routes());
}

std::vector<std::uint8_t> PciPlatform::mcfg_table() { return pci::build_mcfg(); }

}  // namespace nestbox
