#include <doctest/doctest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "snapshot/core_sections.h"
#include "snapshot/kvm_state_codec.h"
#include "snapshot/ram_file.h"
#include "snapshot/state_file.h"
#include "snapshot_test_support.h"
#include "test_helpers.h"

using namespace nestbox::snapshot;
using nestbox::test::CaughtSnapshotError;
using nestbox::test::contains;
using nestbox::test::expect_snapshot_error;
using nestbox::test::SnapshotTempDir;

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kAlpha = section_tag("ALFA");
constexpr std::uint32_t kBeta = section_tag("BETA");
constexpr std::uint32_t kUnknown = section_tag("ZZZZ");

const std::vector<SectionSpec> kSpecs = {
    {kAlpha, "alpha device", true, 1, 2},
    {kBeta, "beta device", false, 1, 1},
};

// An independent writer of the documented layout, for files the real writer
// refuses to produce (duplicates, bad versions, wrong end markers).
void put32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put64(Bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
Bytes header(std::uint32_t format = kStateFormatVersion) {
  Bytes out(kStateFileMagic.begin(), kStateFileMagic.end());
  put32(out, format);
  return out;
}
void section(Bytes& out, std::uint32_t tag, std::uint32_t version, const Bytes& payload,
             std::uint32_t flags = 0) {
  Bytes head;
  put32(head, tag);
  put32(head, version);
  put64(head, payload.size());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, head.data(), static_cast<uInt>(head.size()));
  if (!payload.empty()) {  // zlib: a null buffer means "give the initial value"
    crc = crc32(crc, payload.data(), static_cast<uInt>(payload.size()));
  }
  out.insert(out.end(), head.begin(), head.end());
  put32(out, static_cast<std::uint32_t>(crc));
  put32(out, flags);
  out.insert(out.end(), payload.begin(), payload.end());
}
void end_marker(Bytes& out, std::uint64_t count) {
  Bytes payload;
  put64(payload, count);
  section(out, kEndTag, 1, payload);
}

Bytes valid_file() {
  StateFileWriter writer;
  writer.add(kAlpha, 2, Bytes{1, 2, 3, 4});
  writer.add(kBeta, 1, Bytes{});
  writer.add(kUnknown, 7, Bytes{9, 9});
  return writer.bytes();
}

CaughtSnapshotError refusal(Bytes bytes) {
  return expect_snapshot_error([&] { (void)StateFile::parse(std::move(bytes), kSpecs, "snap.state"); });
}

}  // namespace

TEST_CASE("state file: sections round-trip, unknown ones are kept but ignored") {
  const StateFile file = StateFile::parse(valid_file(), kSpecs, "snap.state");
  CHECK(file.format_version() == kStateFormatVersion);
  REQUIRE(file.sections().size() == 3);
  CHECK(file.version(kAlpha) == 2);
  CHECK(Bytes(file.payload(kAlpha).begin(), file.payload(kAlpha).end()) == Bytes{1, 2, 3, 4});
  CHECK(file.payload(kBeta).empty());
  CHECK(file.has(kUnknown));
  CHECK(file.version(kUnknown) == 7);
  ByteReader reader = file.reader(kAlpha);
  CHECK(reader.u32() == 0x04030201);
  CHECK(contains(reader.context(), "snap.state: section ALFA"));
  CHECK_FALSE(file.has(section_tag("NONE")));
  const auto missing = expect_snapshot_error([&] { (void)file.payload(section_tag("NONE")); });
  CHECK(missing.problem == SnapshotProblem::MissingSection);
}

TEST_CASE("state file: the documented layout is what the writer produces") {
  Bytes expected = header();
  section(expected, kAlpha, 2, Bytes{1, 2, 3, 4});
  section(expected, kBeta, 1, Bytes{});
  section(expected, kUnknown, 7, Bytes{9, 9});
  end_marker(expected, 3);
  CHECK(valid_file() == expected);
}

TEST_CASE("state file: written atomically and read back from disk") {
  SnapshotTempDir dir;
  const std::string path = dir.file("machine.state");
  StateFileWriter writer;
  writer.add(kAlpha, 1, Bytes(100000, 0x5a));
  writer.write(path);
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  const StateFile file = StateFile::read(path, kSpecs);
  CHECK(file.payload(kAlpha).size() == 100000);
  // Nothing but the file itself is left in the directory.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path),
                      std::filesystem::directory_iterator()) == 1);

  const auto absent = expect_snapshot_error([&] { (void)StateFile::read(dir.file("none"), kSpecs); });
  CHECK(absent.problem == SnapshotProblem::Io);
  CHECK(contains(absent.message, "none"));
}

TEST_CASE("state file: the writer refuses duplicate and reserved tags") {
  StateFileWriter writer;
  writer.add(kAlpha, 1, {});
  CHECK_THROWS_AS(writer.add(kAlpha, 1, {}), std::logic_error);
  CHECK_THROWS_AS(writer.add(kEndTag, 1, {}), std::logic_error);
}

TEST_CASE("state file: a file that is not a state file is refused") {
  Bytes bytes = valid_file();
  bytes[0] = 'X';
  const auto error = refusal(bytes);
  CHECK(error.problem == SnapshotProblem::NotASnapshot);
  CHECK(error.message == "snap.state: not a Nestbox state file (wrong magic)");
  CHECK(refusal(Bytes{'P', 'K', 3, 4}).problem == SnapshotProblem::NotASnapshot);
}

TEST_CASE("state file: a newer format is refused with both versions named") {
  Bytes bytes = header(kStateFormatVersion + 1);
  end_marker(bytes, 0);
  const auto error = refusal(bytes);
  CHECK(error.problem == SnapshotProblem::NewerFormat);
  CHECK(contains(error.message, "written by a newer Nestbox (format " +
                                    std::to_string(kStateFormatVersion + 1) +
                                    "); this version reads up to format " +
                                    std::to_string(kStateFormatVersion)));
}

TEST_CASE("state file: an older format this version cannot upgrade is refused") {
  Bytes bytes = header(kOldestReadableStateFormatVersion - 1);
  end_marker(bytes, 0);
  const auto error = refusal(bytes);
  CHECK(error.problem == SnapshotProblem::OlderFormat);
  CHECK(contains(error.message, "written by an older Nestbox (format 0)"));
  CHECK(contains(error.message, "cannot read or upgrade"));
}

TEST_CASE("state file: every truncation of a valid file is refused as truncated") {
  const Bytes whole = valid_file();
  for (std::size_t length = 0; length < whole.size(); ++length) {
    CAPTURE(length);
    const auto error = refusal(Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(length)));
    CHECK(error.problem == SnapshotProblem::Truncated);
  }
  // Cut exactly after a section: the missing end marker is named.
  Bytes cut = header();
  section(cut, kAlpha, 1, Bytes{1});
  const auto error = refusal(cut);
  CHECK(contains(error.message, "ends after 1 sections without its end marker"));
}

TEST_CASE("state file: a flipped bit anywhere in a section fails, naming the section") {
  const Bytes whole = valid_file();
  // The ALFA section: header at 12 (24 bytes), payload at 36 (4 bytes).
  for (std::size_t at : {std::size_t{12 + 4}, std::size_t{36}, std::size_t{39}}) {
    Bytes bytes = whole;
    bytes[at] ^= 0x10;
    const auto error = refusal(bytes);
    CAPTURE(at);
    CHECK(error.problem == SnapshotProblem::BadChecksum);
    CHECK(contains(error.message, "section ALFA (alpha device) at byte 12 fails its checksum"));
  }
  // The stored CRC itself.
  Bytes bytes = whole;
  bytes[12 + 16] ^= 1;
  CHECK(refusal(bytes).problem == SnapshotProblem::BadChecksum);
  // The end marker's payload.
  bytes = whole;
  bytes[bytes.size() - 1] ^= 1;
  const auto end = refusal(bytes);
  CHECK(end.problem == SnapshotProblem::BadChecksum);
  CHECK(contains(end.message, "the end marker"));
}

TEST_CASE("state file: a length pointing past the end is refused without reading it") {
  Bytes bytes = header();
  section(bytes, kAlpha, 1, Bytes{1, 2});
  // Length field of the first section (offset 12 + 8): a huge value.
  for (int i = 0; i < 8; ++i) bytes[20 + static_cast<std::size_t>(i)] = 0xff;
  end_marker(bytes, 1);
  const auto error = refusal(bytes);
  CHECK(error.problem == SnapshotProblem::Truncated);
  CHECK(contains(error.message, "section ALFA (alpha device) at byte 12 claims"));
}

TEST_CASE("state file: duplicate sections are refused") {
  Bytes bytes = header();
  section(bytes, kAlpha, 1, Bytes{1});
  section(bytes, kBeta, 1, Bytes{});
  section(bytes, kBeta, 1, Bytes{2});
  end_marker(bytes, 3);
  const auto error = refusal(bytes);
  CHECK(error.problem == SnapshotProblem::DuplicateSection);
  CHECK(contains(error.message, "section BETA (beta device) appears twice"));
}

TEST_CASE("state file: a missing required section is refused, an optional one is not") {
  Bytes bytes = header();
  section(bytes, kBeta, 1, Bytes{});
  end_marker(bytes, 1);
  const auto error = refusal(bytes);
  CHECK(error.problem == SnapshotProblem::MissingSection);
  CHECK(contains(error.message, "the required section ALFA (alpha device) is missing"));

  Bytes only_alpha = header();
  section(only_alpha, kAlpha, 1, Bytes{});
  end_marker(only_alpha, 1);
  CHECK_FALSE(StateFile::parse(only_alpha, kSpecs, "x").has(kBeta));
}

TEST_CASE("state file: section versions outside what this Nestbox reads are refused") {
  Bytes newer = header();
  section(newer, kAlpha, 3, Bytes{});
  end_marker(newer, 1);
  const auto error = refusal(newer);
  CHECK(error.problem == SnapshotProblem::UnsupportedSection);
  CHECK(contains(error.message, "section ALFA (alpha device) is version 3, written by a newer "
                                "Nestbox; this version reads up to 2"));

  Bytes older = header();
  section(older, kAlpha, 0, Bytes{});
  end_marker(older, 1);
  CHECK(contains(refusal(older).message, "from an older Nestbox; this version reads versions 1 to 2"));
}

TEST_CASE("state file: a wrong end marker, trailing bytes and unknown flags are refused") {
  Bytes miscount = header();
  section(miscount, kAlpha, 1, Bytes{});
  end_marker(miscount, 2);
  CHECK(contains(refusal(miscount).message, "end marker does not match the 1 sections"));

  Bytes trailing = valid_file();
  trailing.push_back(0);
  const auto error = refusal(trailing);
  CHECK(error.problem == SnapshotProblem::Malformed);
  CHECK(contains(error.message, "1 unexpected bytes follow the end marker"));

  Bytes flagged = header();
  section(flagged, kAlpha, 1, Bytes{}, 1);
  end_marker(flagged, 1);
  CHECK(contains(refusal(flagged).message, "unknown flags"));
}

TEST_CASE("state file: the core sections round-trip through a file") {
  using nestbox::GuestRamRegion;
  nestbox::kvm::VcpuState vcpu;
  vcpu.mp_state = KVM_MP_STATE_HALTED;
  vcpu.cpuid.resize(3);
  vcpu.cpuid[2].function = 0xd;
  vcpu.cpuid[2].eax = 0x207;
  vcpu.regs.rip = 0x1234;
  vcpu.regs.rax = 0xfeedface;
  vcpu.sregs2 = kvm_sregs2{};
  vcpu.sregs2->cr0 = 0x80050033;
  vcpu.sregs2->pdptrs[3] = 77;
  vcpu.xsave.assign(4096, 0);
  vcpu.xsave[512] = 3;
  vcpu.xcrs = kvm_xcrs{};
  vcpu.xcrs->nr_xcrs = 1;
  vcpu.xcrs->xcrs[0].value = 7;
  vcpu.debugregs = kvm_debugregs{};
  vcpu.debugregs->dr7 = 0x400;
  vcpu.lapic.regs[0x20] = 0x11;
  vcpu.msrs = {{0x10, 0, 123456}, {0x6e0, 0, 99}};
  vcpu.events = kvm_vcpu_events{};
  vcpu.events->nmi.pending = 1;
  vcpu.tsc_khz = 2500000;
  nestbox::kvm::VcpuState legacy;
  legacy.sregs = kvm_sregs{};
  legacy.sregs->cr3 = 0x9000;
  legacy.fpu = kvm_fpu{};
  legacy.fpu->fcw = 0x37f;
  const std::vector<nestbox::kvm::VcpuState> vcpus{vcpu, legacy};

  nestbox::kvm::VmState vm;
  vm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
  vm.pic_master.chip.pic.imr = 0xfb;
  vm.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
  vm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
  vm.ioapic.chip.ioapic.redirtbl[2].bits = 0x10030;
  vm.pit.channels[0].count = 0x4a9;
  vm.clock.clock = 123456789;

  const std::vector<GuestRamRegion> regions{{0, 0xc0000000}, {0x100000000, 0x40000000}};

  SnapshotTempDir dir;
  StateFileWriter writer;
  writer.add(kRamSectionTag, kRamSectionVersion, encode_ram_section(regions));
  writer.add(kVcpuSectionTag, kVcpuSectionVersion, encode_vcpu_section(vcpus));
  writer.add(kKvmVmSectionTag, kKvmVmSectionVersion, encode_kvm_vm_section(vm));
  writer.write(dir.file("s.state"));

  const std::vector<SectionSpec> specs = core_section_specs();
  const StateFile file = StateFile::read(dir.file("s.state"), specs);
  const RamLayout layout = decode_ram_section(file.reader(kRamSectionTag));
  REQUIRE(layout.regions.size() == 2);
  CHECK(layout.regions[1].guest_address == 0x100000000);
  CHECK(layout.file_size == 0x100000000);

  const std::vector<nestbox::kvm::VcpuState> back = decode_vcpu_section(file.reader(kVcpuSectionTag));
  REQUIRE(back.size() == 2);
  CHECK(back[0].mp_state == KVM_MP_STATE_HALTED);
  REQUIRE(back[0].cpuid.size() == 3);
  CHECK(back[0].cpuid[2].function == 0xd);
  CHECK(back[0].cpuid[2].eax == 0x207);
  CHECK(back[1].cpuid.empty());
  CHECK(back[0].regs.rip == 0x1234);
  CHECK(back[0].regs.rax == 0xfeedface);
  REQUIRE(back[0].sregs2.has_value());
  CHECK_FALSE(back[0].sregs.has_value());
  CHECK(back[0].sregs2->cr0 == 0x80050033);
  CHECK(back[0].sregs2->pdptrs[3] == 77);
  CHECK(back[0].xsave == vcpu.xsave);
  CHECK_FALSE(back[0].fpu.has_value());
  CHECK(back[0].xcrs->xcrs[0].value == 7);
  CHECK(back[0].debugregs->dr7 == 0x400);
  CHECK(back[0].lapic.regs[0x20] == 0x11);
  REQUIRE(back[0].msrs.size() == 2);
  CHECK(back[0].msrs[1].index == 0x6e0);
  CHECK(back[0].msrs[1].data == 99);
  CHECK(back[0].events->nmi.pending == 1);
  CHECK(back[0].tsc_khz == 2500000);
  CHECK(back[1].sregs->cr3 == 0x9000);
  CHECK(back[1].fpu->fcw == 0x37f);
  CHECK(back[1].xsave.empty());
  CHECK_FALSE(back[1].xcrs.has_value());
  CHECK_FALSE(back[1].events.has_value());

  const nestbox::kvm::VmState vm_back = decode_kvm_vm_section(file.reader(kKvmVmSectionTag));
  CHECK(vm_back.pic_master.chip.pic.imr == 0xfb);
  CHECK(vm_back.ioapic.chip.ioapic.redirtbl[2].bits == 0x10030);
  CHECK(vm_back.pit.channels[0].count == 0x4a9);
  CHECK(vm_back.clock.clock == 123456789);
}

TEST_CASE("state file: corrupt core sections are refused by their decoders") {
  SUBCASE("vCPU section cut short") {
    nestbox::kvm::VcpuState vcpu;
    vcpu.sregs = kvm_sregs{};
    vcpu.fpu = kvm_fpu{};
    Bytes bytes = encode_vcpu_section(std::vector<nestbox::kvm::VcpuState>{vcpu});
    bytes.resize(bytes.size() - 1);
    const auto error = expect_snapshot_error([&] { (void)decode_vcpu_section(ByteReader(bytes, "VCPU")); });
    CHECK(error.problem == SnapshotProblem::Malformed);
  }
  SUBCASE("vCPU count larger than the payload") {
    ByteWriter out;
    out.u32(4000);
    const Bytes bytes = out.take();
    CHECK(contains(expect_snapshot_error([&] { (void)decode_vcpu_section(ByteReader(bytes, "VCPU")); }).message,
                   "cannot fit"));
  }
  SUBCASE("RAM regions out of order") {
    const std::vector<nestbox::GuestRamRegion> bad{{0x100000, 0x1000}, {0, 0x1000}};
    const Bytes bytes = encode_ram_section(bad);
    CHECK(contains(expect_snapshot_error([&] { (void)decode_ram_section(ByteReader(bytes, "RAM")); }).message,
                   "RAM region 1 is invalid"));
  }
  SUBCASE("IOAPIC and PIC swapped") {
    nestbox::kvm::VmState vm;
    vm.pic_master.chip_id = KVM_IRQCHIP_IOAPIC;
    const Bytes bytes = encode_kvm_vm_section(vm);
    CHECK(contains(expect_snapshot_error([&] { (void)decode_kvm_vm_section(ByteReader(bytes, "KVVM")); }).message,
                   "out of order"));
  }
}
