// The board's PCI side: the root complex with its two configuration paths
// (ports 0xcf8-0xcff and ECAM), the windows BARs decode in, MSI delivery
// through KVM, and the virtio devices plugged into it with their queue
// notifications bound to ioeventfds.
//
// Notifications: a virtio driver kicks a queue by writing to the queue's
// address in its device's notify region. Each queue gets an eventfd that KVM
// signals on that write (KVM_IOEVENTFD: no exit to user space, the vCPU goes
// straight back into the guest) and the machine's I/O thread watches it. The
// eventfds live as long as the board; only their KVM registration moves when
// the guest moves a BAR. A write KVM does not match (wrong size, say) still
// reaches the device as an ordinary MMIO exit.
//
// Threading: built and wired before the vCPUs run. BAR moves arrive on vCPU
// threads during config writes (with the function's config lock held).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/address_bus.h"
#include "bus/pci/msi_sink.h"
#include "bus/pci/pci_bar_space.h"
#include "bus/pci/pci_intx.h"
#include "bus/pci/pci_root_complex.h"
#include "devices/interrupt_line.h"
#include "bus/pci/pci_config_ports.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "kvm/kvm_vm.h"
#include "machine/io_thread.h"
#include "memory/guest_memory.h"

namespace nestbox {

class PciPlatform {
 public:
  using Logger = std::function<void(std::string_view)>;

  // Attaches the configuration ports, the ECAM window and the BAR windows to
  // the buses. `vm` must outlive the platform.
  PciPlatform(const kvm::KvmVm& vm, AddressBus& port_bus, AddressBus& mmio_bus,
              std::array<std::shared_ptr<InterruptLine>, pci::kIntxLineCount> intx_lines);
  ~PciPlatform();
  PciPlatform(const PciPlatform&) = delete;
  PciPlatform& operator=(const PciPlatform&) = delete;

  // Plugs a virtio device in at `slot` (1-31). Before assign_resources().
  std::shared_ptr<virtio::VirtioPciDevice> add_virtio(std::uint8_t slot,
                                                      std::unique_ptr<virtio::VirtioDevice> device,
                                                      const GuestMemory& memory, Logger log);
  // Any other function (the display, later).
  void add_function(std::uint8_t slot, std::shared_ptr<pci::PciFunction> function);

  // Places every BAR and enables decoding, as firmware would. Once, before vCPUs run.
  void assign_resources();

  // Watches every queue's eventfd on the I/O thread; appends the fds it
  // watches to `watched` (the board unwatches them on detach).
  void attach_io(IoThread& io, std::vector<int>& watched);

  // The DSDT terms (Device PCI0 with _CRS and _PRT, the ECAM reservation) and
  // the MCFG table that describe this platform.
  [[nodiscard]] std::vector<std::uint8_t> acpi_system_bus_terms() const;
  [[nodiscard]] static std::vector<std::uint8_t> mcfg_table();

  [[nodiscard]] const std::shared_ptr<pci::MsiSink>& msi_sink() const { return msi_sink_; }

  // For snapshots: the virtio functions by slot (ascending) and the
  // configuration-address latch at 0xcf8.
  [[nodiscard]] std::vector<std::pair<std::uint8_t, std::shared_ptr<virtio::VirtioPciDevice>>>
  virtio_functions() const;
  [[nodiscard]] pci::PciConfigPorts& config_ports() const { return *config_ports_; }

 private:
  struct VirtioSlot;
  void on_bar_moved(const pci::PciBarMapping& mapping, bool mapped);

  const kvm::KvmVm& vm_;
  std::shared_ptr<pci::PciBarSpace> io_space_;
  std::shared_ptr<pci::PciBarSpace> mmio_space_;
  pci::PciBarRouter router_;
  std::shared_ptr<pci::PciRootComplex> root_;
  std::shared_ptr<pci::MsiSink> msi_sink_;
  std::shared_ptr<pci::PciConfigPorts> config_ports_;
  // By PCI device number; only the table is fixed after setup, each slot's
  // registration changes under its function's config lock.
  std::array<std::unique_ptr<VirtioSlot>, pci::kDevicesPerBus> virtio_;
};

}  // namespace nestbox
