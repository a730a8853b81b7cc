// Builds small, well-formed kernel images in memory so tests can break them
// one field at a time.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace nestbox::test {

struct BzImageSpec {
  std::uint16_t version = 0x020f;
  std::uint8_t loadflags = LOADED_HIGH;
  std::uint16_t xloadflags = XLF_KERNEL_64;
  std::uint8_t setup_sects = 4;
  std::uint32_t cmdline_size = 255;
  std::uint32_t init_size = 0;  // 0: the protected-mode size rounded to 4 KiB
  std::optional<std::uint32_t> syssize;  // default: the real size in 16-byte units
  std::uint8_t relocatable_kernel = 1;
  std::uint32_t kernel_alignment = 0x200000;
  std::uint64_t pref_address = 0x100000;
  std::uint32_t initrd_addr_max = 0x7fffffff;
  std::uint32_t payload_offset = 0;
  std::uint32_t payload_length = 0;
  std::vector<std::uint8_t> protected_mode = std::vector<std::uint8_t>(0x400, 0x90);
};

std::vector<std::uint8_t> build_bzimage(const BzImageSpec& spec);

struct ElfSegmentSpec {
  std::uint64_t physical_address;
  std::uint64_t virtual_address;
  std::vector<std::uint8_t> bytes;
  std::uint64_t memory_size;  // >= bytes.size(); the rest is zeroed (bss)
};

struct ElfSpec {
  std::uint64_t entry;
  std::vector<ElfSegmentSpec> segments;
};

// The ELF header, then the program headers, then each segment's bytes.
std::vector<std::uint8_t> build_elf(const ElfSpec& spec);

}  // namespace nestbox::test
