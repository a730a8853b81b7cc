// Writes the ACPI tables into fake guest RAM and parses them back the way a
// guest does: find the RSDP, follow pointers, check every checksum.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "arch/x86/acpi/acpi_layout.h"
#include "arch/x86/acpi/acpi_table.h"
#include "arch/x86/acpi/acpi_tables.h"
#include "arch/x86/acpi/aml.h"
#include "arch/x86/acpi/fadt.h"
#include "arch/x86/acpi/madt.h"
#include "devices/acpi_pm/acpi_pm_registers.h"
#include "memory/guest_memory.h"
#include "test_helpers.h"

namespace acpi = nestbox::x86::acpi;
namespace fadt = nestbox::x86::acpi::fadt;
namespace pm = nestbox::acpi_pm;
using nestbox::GuestMemory;

namespace {

GuestMemory small_ram() { return GuestMemory::allocate({{0, 4 << 20}}); }

std::vector<std::uint8_t> bytes_at(const GuestMemory& memory, std::uint64_t address, std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  memory.read(address, bytes);
  return bytes;
}

std::uint8_t sum(const std::vector<std::uint8_t>& bytes) {
  std::uint8_t total = 0;
  for (std::uint8_t b : bytes) total = static_cast<std::uint8_t>(total + b);
  return total;
}

template <typename T>
T field(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  REQUIRE(offset + sizeof(T) <= bytes.size());
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

struct Table {
  std::string signature;
  std::vector<std::uint8_t> bytes;
};

// Reads a table at `address`, checking its length is sane and its checksum zero.
Table read_table(const GuestMemory& memory, std::uint64_t address) {
  const auto header = bytes_at(memory, address, acpi::kTableHeaderSize);
  const auto length = field<std::uint32_t>(header, 4);
  REQUIRE(length >= acpi::kTableHeaderSize);
  REQUIRE(address + length <= acpi::kAcpiRegionEnd);
  Table table{std::string(header.begin(), header.begin() + 4), bytes_at(memory, address, length)};
  CHECK_MESSAGE(sum(table.bytes) == 0, table.signature << " checksum");
  return table;
}

// The legacy scan: "RSD PTR " on a 16-byte boundary with a valid checksum.
std::uint64_t scan_for_rsdp(const GuestMemory& memory) {
  for (std::uint64_t address = 0xe0000; address < 0x100000; address += 16) {
    const auto bytes = bytes_at(memory, address, 20);
    if (std::memcmp(bytes.data(), "RSD PTR ", 8) == 0 && sum(bytes) == 0) {
      return address;
    }
  }
  return 0;
}

struct ParsedTables {
  Table xsdt;
  std::vector<Table> listed;
  Table fadt;
  Table madt;
  Table dsdt;
  std::vector<std::uint8_t> facs;
  std::uint64_t facs_address = 0;
};

ParsedTables parse(const GuestMemory& memory) {
  const std::uint64_t rsdp_address = scan_for_rsdp(memory);
  REQUIRE(rsdp_address != 0);
  const auto rsdp = bytes_at(memory, rsdp_address, 36);
  CHECK(sum(std::vector<std::uint8_t>(rsdp.begin(), rsdp.begin() + 20)) == 0);
  CHECK(sum(rsdp) == 0);
  CHECK(rsdp[15] == 2);  // revision: ACPI 2.0+
  CHECK(field<std::uint32_t>(rsdp, 20) == 36);
  ParsedTables parsed;
  parsed.xsdt = read_table(memory, field<std::uint64_t>(rsdp, 24));
  CHECK(parsed.xsdt.signature == "XSDT");
  for (std::size_t at = acpi::kTableHeaderSize; at < parsed.xsdt.bytes.size(); at += 8) {
    parsed.listed.push_back(read_table(memory, field<std::uint64_t>(parsed.xsdt.bytes, at)));
    const Table& table = parsed.listed.back();
    if (table.signature == "FACP") parsed.fadt = table;
    if (table.signature == "APIC") parsed.madt = table;
  }
  REQUIRE(parsed.fadt.signature == "FACP");
  REQUIRE(parsed.madt.signature == "APIC");
  const auto dsdt32 = field<std::uint32_t>(parsed.fadt.bytes, fadt::kDsdt);
  CHECK(field<std::uint64_t>(parsed.fadt.bytes, fadt::kXDsdt) == dsdt32);
  parsed.dsdt = read_table(memory, dsdt32);
  CHECK(parsed.dsdt.signature == "DSDT");
  parsed.facs_address = field<std::uint32_t>(parsed.fadt.bytes, fadt::kFirmwareCtrl);
  CHECK(field<std::uint64_t>(parsed.fadt.bytes, fadt::kXFirmwareCtrl) == parsed.facs_address);
  parsed.facs = bytes_at(memory, parsed.facs_address, 64);
  return parsed;
}

struct MadtEntry {
  std::uint8_t type;
  std::vector<std::uint8_t> bytes;
};

std::vector<MadtEntry> madt_entries(const Table& madt) {
  std::vector<MadtEntry> entries;
  std::size_t at = acpi::kTableHeaderSize + 8;
  while (at + 2 <= madt.bytes.size()) {
    const std::uint8_t length = madt.bytes[at + 1];
    REQUIRE(length >= 2);
    REQUIRE(at + length <= madt.bytes.size());
    entries.push_back({madt.bytes[at], {madt.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                        madt.bytes.begin() + static_cast<std::ptrdiff_t>(at + length)}});
    at += length;
  }
  CHECK(at == madt.bytes.size());
  return entries;
}

// Finds Name(\_S5, Package(){...}) in the DSDT and decodes its first element.
int s5_sleep_type(const Table& dsdt) {
  const std::vector<std::uint8_t> pattern{0x08, '\\', '_', 'S', '5', '_', 0x12};
  const auto& bytes = dsdt.bytes;
  for (std::size_t at = acpi::kTableHeaderSize; at + pattern.size() + 4 <= bytes.size(); ++at) {
    if (std::equal(pattern.begin(), pattern.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at))) {
      std::size_t p = at + pattern.size();
      const std::uint8_t lead = bytes[p];
      p += 1 + (lead >> 6);  // skip PkgLength
      CHECK(bytes[p] >= 2);  // element count
      ++p;
      switch (bytes[p]) {
        case 0x00: return 0;
        case 0x01: return 1;
        case 0x0a: return bytes[p + 1];
        default: FAIL("unexpected integer encoding"); return -1;
      }
    }
  }
  FAIL("no \\_S5 in the DSDT");
  return -1;
}

bool contains_bytes(const std::vector<std::uint8_t>& haystack, const std::vector<std::uint8_t>& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

}  // namespace

TEST_CASE("acpi tables: RSDP found by the legacy scan, every table checksummed and linked") {
  const GuestMemory memory = small_ram();
  const acpi::AcpiLayout layout = acpi::write_acpi_tables(memory, {});
  CHECK(layout.rsdp_address == acpi::kRsdpAddress);
  CHECK(layout.rsdp_address % 16 == 0);
  CHECK(layout.end_address <= acpi::kAcpiRegionEnd);
  const ParsedTables tables = parse(memory);
  CHECK(scan_for_rsdp(memory) == layout.rsdp_address);
  CHECK(tables.listed.size() == 2);
  CHECK(field<std::uint32_t>(tables.fadt.bytes, fadt::kDsdt) == layout.dsdt_address);
  // FACS: signature, length 64, 64-byte aligned.
  CHECK(std::string(tables.facs.begin(), tables.facs.begin() + 4) == "FACS");
  CHECK(field<std::uint32_t>(tables.facs, 4) == 64);
  CHECK(tables.facs_address % 64 == 0);
  CHECK(tables.facs_address == layout.facs_address);
}

TEST_CASE("acpi FADT: legacy PM block ports, SCI, no SMI, reset register, fixed power button") {
  const GuestMemory memory = small_ram();
  acpi::write_acpi_tables(memory, {});
  const Table fadt_table = parse(memory).fadt;
  const auto& f = fadt_table.bytes;
  CHECK(f.size() == acpi::kFadtLength);
  CHECK(f[8] == 6);  // revision
  CHECK(field<std::uint16_t>(f, fadt::kSciInt) == 9);
  CHECK(field<std::uint32_t>(f, fadt::kSmiCmd) == 0);
  const std::uint64_t base = pm::kDefaultBasePort;
  const auto check_block = [&](std::size_t legacy, std::size_t extended, std::uint64_t port,
                               std::uint8_t length) {
    CHECK(field<std::uint32_t>(f, legacy) == port);
    CHECK(f[extended] == fadt::kSystemIo);
    CHECK(f[extended + 1] == 8 * length);
    CHECK(field<std::uint64_t>(f, extended + 4) == port);
  };
  check_block(fadt::kPm1aEvtBlk, fadt::kXPm1aEvtBlk, base + pm::kPm1EventOffset, pm::kPm1EventLength);
  check_block(fadt::kPm1aCntBlk, fadt::kXPm1aCntBlk, base + pm::kPm1ControlOffset, pm::kPm1ControlLength);
  check_block(fadt::kPmTmrBlk, fadt::kXPmTmrBlk, base + pm::kPmTimerOffset, pm::kPmTimerLength);
  check_block(fadt::kGpe0Blk, fadt::kXGpe0Blk, base + pm::kGpe0Offset, pm::kGpe0Length);
  CHECK(f[fadt::kPm1EvtLen] == pm::kPm1EventLength);
  CHECK(f[fadt::kPm1CntLen] == pm::kPm1ControlLength);
  CHECK(f[fadt::kPmTmrLen] == pm::kPmTimerLength);
  CHECK(f[fadt::kGpe0BlkLen] == pm::kGpe0Length);
  const auto flags = field<std::uint32_t>(f, fadt::kFlags);
  CHECK((flags & fadt::kResetRegSup) != 0);
  CHECK((flags & fadt::kPowerButton) == 0);  // fixed-feature power button
  CHECK((flags & fadt::kTimerValExt) == 0);  // 24-bit timer
  CHECK((flags & fadt::kHwReducedAcpi) == 0);
  CHECK(f[fadt::kResetReg] == fadt::kSystemIo);
  CHECK(field<std::uint64_t>(f, fadt::kResetReg + 4) == base + pm::kResetOffset);
  CHECK(f[fadt::kResetValue] == pm::kResetValue);
  const auto boot_arch = field<std::uint16_t>(f, fadt::kIapcBootArch);
  CHECK((boot_arch & fadt::k8042) != 0);
  CHECK((boot_arch & fadt::kCmosRtcNotPresent) == 0);
  CHECK(f[fadt::kCentury] == 0x32);
}

TEST_CASE("acpi MADT: N CPUs with unique APIC IDs, IOAPIC, overrides, LINT1 NMI") {
  for (std::uint32_t cpus : {1u, 2u, 4u, 64u}) {
    CAPTURE(cpus);
    const GuestMemory memory = small_ram();
    acpi::AcpiPlatform platform;
    platform.cpu_count = cpus;
    acpi::write_acpi_tables(memory, platform);
    const Table madt = parse(memory).madt;
    CHECK(field<std::uint32_t>(madt.bytes, 36) == 0xfee00000);
    CHECK((field<std::uint32_t>(madt.bytes, 40) & acpi::kMadtPcatCompat) != 0);
    std::set<std::uint8_t> apic_ids;
    std::set<std::uint8_t> uids;
    int io_apics = 0;
    std::vector<std::vector<std::uint8_t>> overrides;
    bool lint1_nmi = false;
    for (const MadtEntry& entry : madt_entries(madt)) {
      switch (entry.type) {
        case acpi::kMadtLocalApic:
          REQUIRE(entry.bytes.size() == 8);
          uids.insert(entry.bytes[2]);
          apic_ids.insert(entry.bytes[3]);
          CHECK((field<std::uint32_t>(entry.bytes, 4) & 1) == 1);
          break;
        case acpi::kMadtIoApic:
          ++io_apics;
          CHECK(entry.bytes[2] == cpus);  // the ID after the CPUs'
          CHECK(field<std::uint32_t>(entry.bytes, 4) == 0xfec00000);
          CHECK(field<std::uint32_t>(entry.bytes, 8) == 0);
          break;
        case acpi::kMadtInterruptOverride: overrides.push_back(entry.bytes); break;
        case acpi::kMadtLocalApicNmi:
          lint1_nmi = entry.bytes[2] == 0xff && entry.bytes[5] == 1;
          break;
        default: FAIL("unexpected MADT entry type " << int(entry.type));
      }
    }
    CHECK(apic_ids.size() == cpus);
    CHECK(uids.size() == cpus);
    CHECK(*apic_ids.rbegin() == cpus - 1);
    CHECK(io_apics == 1);
    CHECK(lint1_nmi);
    REQUIRE(overrides.size() == 2);
    CHECK(overrides[0][3] == 0);                                 // IRQ 0...
    CHECK(field<std::uint32_t>(overrides[0], 4) == 2);           // ...to GSI 2
    CHECK((field<std::uint16_t>(overrides[0], 8) & 0xc) == 0x4);  // edge
    CHECK(overrides[1][3] == 9);
    CHECK(field<std::uint32_t>(overrides[1], 4) == 9);
    CHECK(field<std::uint16_t>(overrides[1], 8) == 0xd);  // level, active high
  }
}

TEST_CASE("acpi MADT takes a supplied APIC ID list and refuses bad ones") {
  const GuestMemory memory = small_ram();
  acpi::AcpiPlatform platform;
  platform.cpu_count = 3;
  platform.apic_ids = {0, 2, 4};
  acpi::write_acpi_tables(memory, platform);
  std::set<std::uint8_t> ids;
  std::uint8_t io_apic_id = 0;
  for (const MadtEntry& entry : madt_entries(parse(memory).madt)) {
    if (entry.type == acpi::kMadtLocalApic) ids.insert(entry.bytes[3]);
    if (entry.type == acpi::kMadtIoApic) io_apic_id = entry.bytes[2];
  }
  CHECK(ids == std::set<std::uint8_t>{0, 2, 4});
  CHECK(io_apic_id == 5);

  using nestbox::test::expect_error;
  platform.apic_ids = {0, 2, 2};
  CHECK(expect_error([&] { acpi::write_acpi_tables(memory, platform); }).code ==
        nestbox::ErrorCode::InvalidConfig);
  platform.apic_ids = {0, 1};
  CHECK(expect_error([&] { acpi::write_acpi_tables(memory, platform); }).code ==
        nestbox::ErrorCode::InvalidConfig);
  platform.apic_ids = {0, 1, 0xfe};
  CHECK(expect_error([&] { acpi::write_acpi_tables(memory, platform); }).code ==
        nestbox::ErrorCode::InvalidConfig);
  platform.apic_ids.clear();
  platform.cpu_count = 300;
  CHECK(expect_error([&] { acpi::write_acpi_tables(memory, platform); }).code ==
        nestbox::ErrorCode::InvalidConfig);
  platform.cpu_count = 0;
  CHECK(expect_error([&] { acpi::write_acpi_tables(memory, platform); }).code ==
        nestbox::ErrorCode::InvalidConfig);
}

TEST_CASE("acpi DSDT: \\_S5 names the PM block's S5 type; COM1, RTC, keyboard with their resources") {
  const GuestMemory memory = small_ram();
  acpi::write_acpi_tables(memory, {});
  const Table dsdt = parse(memory).dsdt;
  CHECK(dsdt.bytes[8] == 2);  // revision 2: 64-bit integers
  CHECK(s5_sleep_type(dsdt) == pm::kS5SleepType);
  namespace aml = acpi::aml;
  CHECK(contains_bytes(dsdt.bytes, aml::name("_HID", aml::eisa_id("PNP0501"))));
  CHECK(contains_bytes(dsdt.bytes, aml::name("_HID", aml::eisa_id("PNP0B00"))));
  CHECK(contains_bytes(dsdt.bytes, aml::name("_HID", aml::eisa_id("PNP0303"))));
  CHECK(contains_bytes(dsdt.bytes, {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x08, 0x08, 0x22, 0x10, 0x00}));
  CHECK(contains_bytes(dsdt.bytes, {0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02, 0x22, 0x00, 0x01}));
  CHECK(contains_bytes(dsdt.bytes, {0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x47, 0x01,
                                    0x64, 0x00, 0x64, 0x00, 0x01, 0x01, 0x22, 0x02, 0x00}));
  // The whole AML body is one \_S5 Name and one \_SB Scope whose length covers the rest.
  const std::size_t scope_at = acpi::kTableHeaderSize + 15;
  REQUIRE(dsdt.bytes[scope_at] == aml::kScopeOp);
  const std::uint8_t lead = dsdt.bytes[scope_at + 1];
  std::size_t length = lead & 0x0f;
  for (unsigned i = 0; i < (lead >> 6); ++i) length |= std::size_t{dsdt.bytes[scope_at + 2 + i]} << (4 + 8 * i);
  if ((lead >> 6) == 0) length = lead;
  CHECK(scope_at + 1 + length == dsdt.bytes.size());
}

TEST_CASE("acpi extension points: AML under \\_SB and extra tables linked from the XSDT") {
  const GuestMemory memory = small_ram();
  namespace aml = acpi::aml;
  acpi::AcpiPlatform platform;
  const aml::Bytes pci = aml::device("PCI0", aml::name("_HID", aml::eisa_id("PNP0A03")));
  platform.system_bus_terms.push_back(pci);
  std::vector<std::uint8_t> mcfg = acpi::make_table("MCFG", 1, std::vector<std::uint8_t>(8 + 16, 0));
  mcfg[20] ^= 0x55;  // a stale checksum the writer must fix
  platform.extra_tables.push_back(mcfg);
  const acpi::AcpiLayout layout = acpi::write_acpi_tables(memory, platform);
  const ParsedTables tables = parse(memory);
  REQUIRE(tables.listed.size() == 3);
  CHECK(tables.listed[2].signature == "MCFG");
  CHECK(layout.extra_table_addresses.size() == 1);
  CHECK(contains_bytes(tables.dsdt.bytes, pci));

  platform.extra_tables = {std::vector<std::uint8_t>(10, 0)};
  CHECK(nestbox::test::expect_error([&] { acpi::write_acpi_tables(memory, platform); }).code ==
        nestbox::ErrorCode::InvalidConfig);
  platform.extra_tables = {mcfg};
  platform.extra_tables[0].push_back(0);  // length field no longer matches
  CHECK(nestbox::test::expect_error([&] { acpi::write_acpi_tables(memory, platform); }).code ==
        nestbox::ErrorCode::InvalidConfig);
}

TEST_CASE("acpi tables that would not fit the region, or RAM that lacks it, are refused") {
  const GuestMemory memory = small_ram();
  acpi::AcpiPlatform platform;
  platform.system_bus_terms.push_back(std::vector<std::uint8_t>(200 * 1024, 0));
  const auto too_big = nestbox::test::expect_error([&] { acpi::write_acpi_tables(memory, platform); });
  CHECK(too_big.code == nestbox::ErrorCode::InvalidConfig);
  CHECK(nestbox::test::contains(too_big.message, "bytes reserved"));

  const GuestMemory tiny = GuestMemory::allocate({{0, 0x80000}});
  CHECK(nestbox::test::expect_error([&] { acpi::write_acpi_tables(tiny, {}); }).code ==
        nestbox::ErrorCode::GuestMemory);
}
