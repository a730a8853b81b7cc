#include "arch/x86/acpi/acpi_tables.h"

#include <algorithm>
#include <set>
#include <string>

#include "arch/x86/acpi/acpi_table.h"
#include "arch/x86/acpi/dsdt.h"
#include "arch/x86/acpi/fadt.h"
#include "arch/x86/acpi/madt.h"
#include "arch/x86/acpi/root_tables.h"
#include "common/hex.h"
#include "common/nestbox_error.h"

namespace nestbox::x86::acpi {

namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw NestboxError(ErrorCode::InvalidConfig, "ACPI: " + message);
}

std::vector<std::uint8_t> checked_apic_ids(const AcpiPlatform& platform) {
  if (platform.cpu_count == 0) {
    invalid("a machine needs at least one CPU");
  }
  std::vector<std::uint8_t> ids = platform.apic_ids;
  if (ids.empty()) {
    if (platform.cpu_count > kMaxApicId + 1) {
      invalid(std::to_string(platform.cpu_count) + " CPUs need x2APIC entries, which the MADT " +
              "does not have yet (at most " + std::to_string(kMaxApicId + 1) + ")");
    }
    for (std::uint32_t i = 0; i < platform.cpu_count; ++i) {
      ids.push_back(static_cast<std::uint8_t>(i));
    }
  }
  if (ids.size() != platform.cpu_count) {
    invalid("apic_ids lists " + std::to_string(ids.size()) + " IDs for " +
            std::to_string(platform.cpu_count) + " CPUs");
  }
  if (std::set<std::uint8_t>(ids.begin(), ids.end()).size() != ids.size()) {
    invalid("APIC IDs must be unique");
  }
  if (*std::max_element(ids.begin(), ids.end()) > kMaxApicId) {
    invalid("APIC IDs must be at most " + std::to_string(kMaxApicId));
  }
  return ids;
}

void check_extra_table(const std::vector<std::uint8_t>& table) {
  if (table.size() < kTableHeaderSize) {
    invalid("an extra table is shorter than a table header");
  }
  const std::uint32_t length = static_cast<std::uint32_t>(table[kTableLengthOffset]) |
                               static_cast<std::uint32_t>(table[kTableLengthOffset + 1]) << 8 |
                               static_cast<std::uint32_t>(table[kTableLengthOffset + 2]) << 16 |
                               static_cast<std::uint32_t>(table[kTableLengthOffset + 3]) << 24;
  if (length != table.size()) {
    invalid("an extra table's length field (" + std::to_string(length) + ") is not its size (" +
            std::to_string(table.size()) + ")");
  }
}

// Hands out addresses in the region, in order, and refuses to run past its end.
class RegionAllocator {
 public:
  RegionAllocator(std::uint64_t start, std::uint64_t end) : next_(start), end_(end) {}

  std::uint64_t place(std::size_t size, std::uint64_t alignment) {
    const std::uint64_t address = (next_ + alignment - 1) / alignment * alignment;
    if (address > end_ || size > end_ - address) {
      invalid("the tables need more than the " + std::to_string(end_ - kAcpiRegionStart) +
              " bytes reserved for them");
    }
    next_ = address + size;
    return address;
  }
  [[nodiscard]] std::uint64_t next() const { return next_; }

 private:
  std::uint64_t next_;
  std::uint64_t end_;
};

constexpr std::uint64_t kTableAlignment = 16;

}  // namespace

AcpiLayout write_acpi_tables(const GuestMemory& memory, const AcpiPlatform& platform) {
  const std::vector<std::uint8_t> apic_ids = checked_apic_ids(platform);
  for (const auto& table : platform.extra_tables) {
    check_extra_table(table);
  }
  if (!memory.contains(kAcpiRegionStart, kAcpiRegionEnd - kAcpiRegionStart)) {
    throw NestboxError(ErrorCode::GuestMemory, "ACPI: guest RAM does not cover " +
                                                   to_hex(kAcpiRegionStart) + "-" +
                                                   to_hex(kAcpiRegionEnd - 1));
  }

  // Tables are built in dependency order (a table needs the addresses of
  // those it points at), so sizes come first and addresses follow them.
  AcpiLayout layout;
  RegionAllocator region(kAcpiRegionStart, kAcpiRegionEnd);
  layout.rsdp_address = region.place(kRsdpLength, kTableAlignment);
  const std::vector<std::uint8_t> facs = build_facs();
  layout.facs_address = region.place(facs.size(), kFacsAlignment);
  const std::vector<std::uint8_t> dsdt =
      build_dsdt({acpi_pm::kS5SleepType, platform.system_bus_terms});
  layout.dsdt_address = region.place(dsdt.size(), kTableAlignment);
  const std::vector<std::uint8_t> fadt = build_fadt(
      {platform.pm_base, platform.sci_irq, platform.vga_present, layout.facs_address,
       layout.dsdt_address});
  layout.fadt_address = region.place(fadt.size(), kTableAlignment);
  const std::vector<std::uint8_t> madt = build_madt({apic_ids, platform.sci_irq});
  layout.madt_address = region.place(madt.size(), kTableAlignment);
  std::vector<std::vector<std::uint8_t>> extras = platform.extra_tables;
  for (auto& table : extras) {
    set_checksum(table, kTableChecksumOffset);
    layout.extra_table_addresses.push_back(region.place(table.size(), kTableAlignment));
  }
  std::vector<std::uint64_t> listed{layout.fadt_address, layout.madt_address};
  listed.insert(listed.end(), layout.extra_table_addresses.begin(),
                layout.extra_table_addresses.end());
  const std::vector<std::uint8_t> xsdt = build_xsdt(listed);
  layout.xsdt_address = region.place(xsdt.size(), kTableAlignment);
  const std::vector<std::uint8_t> rsdp = build_rsdp(layout.xsdt_address);
  layout.end_address = region.next();

  // Stale bytes from an earlier boot (a reboot reuses RAM) must not look like tables.
  const std::span<std::uint8_t> whole = memory.span(kAcpiRegionStart, kAcpiRegionEnd - kAcpiRegionStart);
  std::fill(whole.begin(), whole.end(), 0);
  memory.write(layout.rsdp_address, rsdp);
  memory.write(layout.facs_address, facs);
  memory.write(layout.dsdt_address, dsdt);
  memory.write(layout.fadt_address, fadt);
  memory.write(layout.madt_address, madt);
  for (std::size_t i = 0; i < extras.size(); ++i) {
    memory.write(layout.extra_table_addresses[i], extras[i]);
  }
  memory.write(layout.xsdt_address, xsdt);
  return layout;
}

}  // namespace nestbox::x86::acpi
