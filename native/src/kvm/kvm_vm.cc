#include "kvm/kvm_vm.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "kvm/kvm_ioctl.h"
#include "kvm/kvm_table_ioctls.h"

namespace nestbox::kvm {

namespace {

kvm_ioeventfd ioeventfd_request(int event_fd, std::uint64_t address, std::uint32_t length,
                                bool port_io, std::optional<std::uint64_t> match_value) {
  kvm_ioeventfd request{};
  request.addr = address;
  request.len = length;
  request.fd = event_fd;
  if (port_io) {
    request.flags |= KVM_IOEVENTFD_FLAG_PIO;
  }
  if (match_value) {
    request.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    request.datamatch = *match_value;
  }
  return request;
}

}  // namespace

void KvmVm::set_user_memory_region(std::uint32_t slot, std::uint64_t guest_physical_address,
                                   std::uint64_t size, void* host_address) const {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.flags = 0;
  region.guest_phys_addr = guest_physical_address;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<std::uint64_t>(host_address);
  checked_ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
}

void KvmVm::set_tss_address(std::uint64_t guest_physical_address) const {
  checked_ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(guest_physical_address),
                "KVM_SET_TSS_ADDR");
}

void KvmVm::set_identity_map_address(std::uint64_t guest_physical_address) const {
  const std::uint64_t address = guest_physical_address;
  checked_ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &address, "KVM_SET_IDENTITY_MAP_ADDR");
}

void KvmVm::create_irqchip() const {
  checked_ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
}

void KvmVm::create_pit2() const {
  kvm_pit_config config{};
  config.flags = KVM_PIT_SPEAKER_DUMMY;
  checked_ioctl(fd_.get(), KVM_CREATE_PIT2, &config, "KVM_CREATE_PIT2");
}

void KvmVm::set_gsi_routing(std::span<const kvm_irq_routing_entry> routes) const {
  KvmTable<kvm_irq_routing_entry> table(routes);
  checked_ioctl(fd_.get(), kSetGsiRouting, table.data(), "KVM_SET_GSI_ROUTING");
}

void KvmVm::set_irq_line(std::uint32_t gsi, bool level) const {
  kvm_irq_level request{};
  request.irq = gsi;
  request.level = level ? 1 : 0;
  checked_ioctl(fd_.get(), KVM_IRQ_LINE, &request, "KVM_IRQ_LINE");
}

void KvmVm::assign_irqfd(int event_fd, std::uint32_t gsi, std::optional<int> resample_fd) const {
  kvm_irqfd request{};
  request.fd = static_cast<std::uint32_t>(event_fd);
  request.gsi = gsi;
  if (resample_fd) {
    request.flags = KVM_IRQFD_FLAG_RESAMPLE;
    request.resamplefd = static_cast<std::uint32_t>(*resample_fd);
  }
  checked_ioctl(fd_.get(), KVM_IRQFD, &request, "KVM_IRQFD");
}

void KvmVm::deassign_irqfd(int event_fd, std::uint32_t gsi) const {
  kvm_irqfd request{};
  request.fd = static_cast<std::uint32_t>(event_fd);
  request.gsi = gsi;
  request.flags = KVM_IRQFD_FLAG_DEASSIGN;
  checked_ioctl(fd_.get(), KVM_IRQFD, &request, "KVM_IRQFD (deassign)");
}

void KvmVm::assign_ioeventfd(int event_fd, std::uint64_t address, std::uint32_t length,
                             bool port_io, std::optional<std::uint64_t> match_value) const {
  kvm_ioeventfd request = ioeventfd_request(event_fd, address, length, port_io, match_value);
  checked_ioctl(fd_.get(), KVM_IOEVENTFD, &request, "KVM_IOEVENTFD");
}

void KvmVm::deassign_ioeventfd(int event_fd, std::uint64_t address, std::uint32_t length,
                               bool port_io, std::optional<std::uint64_t> match_value) const {
  kvm_ioeventfd request = ioeventfd_request(event_fd, address, length, port_io, match_value);
  request.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
  checked_ioctl(fd_.get(), KVM_IOEVENTFD, &request, "KVM_IOEVENTFD (deassign)");
}

bool KvmVm::signal_msi(std::uint64_t address, std::uint32_t data) const {
  kvm_msi request{};
  request.address_lo = static_cast<std::uint32_t>(address);
  request.address_hi = static_cast<std::uint32_t>(address >> 32);
  request.data = data;
  return checked_ioctl(fd_.get(), KVM_SIGNAL_MSI, &request, "KVM_SIGNAL_MSI") > 0;
}

KvmVcpu KvmVm::create_vcpu(std::uint32_t vcpu_id) const {
  UniqueFd vcpu_fd(checked_ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(vcpu_id),
                                 "KVM_CREATE_VCPU"));
  return KvmVcpu(std::move(vcpu_fd), vcpu_mmap_size_);
}

int KvmVm::check_extension(int capability) const {
  const int result = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return result < 0 ? 0 : result;
}

kvm_irqchip KvmVm::get_irqchip(std::uint32_t chip_id) const {
  kvm_irqchip chip{};
  chip.chip_id = chip_id;
  checked_ioctl(fd_.get(), KVM_GET_IRQCHIP, &chip, "KVM_GET_IRQCHIP");
  return chip;
}

void KvmVm::set_irqchip(const kvm_irqchip& chip) const {
  checked_ioctl(fd_.get(), KVM_SET_IRQCHIP, &chip, "KVM_SET_IRQCHIP");
}

kvm_pit_state2 KvmVm::get_pit2() const {
  kvm_pit_state2 pit{};
  checked_ioctl(fd_.get(), KVM_GET_PIT2, &pit, "KVM_GET_PIT2");
  return pit;
}

void KvmVm::set_pit2(const kvm_pit_state2& pit) const {
  checked_ioctl(fd_.get(), KVM_SET_PIT2, &pit, "KVM_SET_PIT2");
}

kvm_clock_data KvmVm::get_clock() const {
  kvm_clock_data clock{};
  checked_ioctl(fd_.get(), KVM_GET_CLOCK, &clock, "KVM_GET_CLOCK");
  return clock;
}

void KvmVm::set_clock(const kvm_clock_data& clock) const {
  checked_ioctl(fd_.get(), KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK");
}

}  // namespace nestbox::kvm
