#include "arch/x86/elf_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <cstring>
#include <limits>
#include <vector>

#include "arch/x86/memory_layout.h"
#include "common/hex.h"
#include "common/nestbox_error.h"

namespace nestbox::x86 {

namespace {

// More than any real kernel has; bounds the work a hostile header can cause.
constexpr std::uint16_t kMaxProgramHeaders = 128;

[[noreturn]] void fail(ErrorCode code, const std::string& why) {
  throw NestboxError(code, "invalid ELF kernel: " + why);
}

// True when [offset, offset + length) lies inside a buffer of `size` bytes.
bool range_within(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

// A name users recognise for the architectures kernels are commonly built for.
std::string machine_name(std::uint16_t machine) {
  switch (machine) {
    case EM_386: return "i386 (32-bit x86)";
    case EM_X86_64: return "x86-64";
    case EM_ARM: return "32-bit ARM";
    case EM_AARCH64: return "AArch64 (ARM64)";
    case EM_RISCV: return "RISC-V";
    case EM_PPC: return "PowerPC";
    case EM_PPC64: return "64-bit PowerPC";
    case EM_S390: return "IBM S/390";
    case EM_MIPS: return "MIPS";
    case EM_LOONGARCH: return "LoongArch";
    default: return "machine type " + std::to_string(machine);
  }
}

Elf64_Ehdr read_elf_header(std::span<const std::uint8_t> image) {
  // e_machine sits at the same offset in 32- and 64-bit headers: read it first,
  // so a kernel for another architecture is named as such whatever its class.
  constexpr std::size_t kMachineEnd = offsetof(Elf64_Ehdr, e_machine) + sizeof(Elf64_Half);
  static_assert(offsetof(Elf32_Ehdr, e_machine) == offsetof(Elf64_Ehdr, e_machine));
  if (image.size() < kMachineEnd) {
    fail(ErrorCode::NotAKernel, "the file is shorter than an ELF header");
  }
  const bool little_endian = image[EI_DATA] == ELFDATA2LSB;
  const unsigned first = image[kMachineEnd - 2];
  const unsigned second = image[kMachineEnd - 1];
  const auto machine =
      static_cast<std::uint16_t>(little_endian ? first | second << 8 : first << 8 | second);
  if (machine != EM_X86_64) {
    fail(ErrorCode::UnsupportedKernel, "built for " + machine_name(machine) + ", not x86-64");
  }
  if (image[EI_CLASS] != ELFCLASS64) {
    fail(ErrorCode::UnsupportedKernel,
         "a 32-bit ELF file; only 64-bit (ELFCLASS64) x86-64 kernels are supported");
  }
  if (!little_endian) {
    fail(ErrorCode::UnsupportedKernel, "not a little-endian ELF file");
  }
  if (image.size() < sizeof(Elf64_Ehdr)) {
    fail(ErrorCode::NotAKernel, "the file is shorter than an ELF header");
  }
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof header);
  if (header.e_type != ET_EXEC) {
    fail(ErrorCode::UnsupportedKernel, "not an executable (ELF type " +
                                           std::to_string(header.e_type) + ")");
  }
  if (header.e_phnum == 0) {
    fail(ErrorCode::NotAKernel, "no program headers");
  }
  if (header.e_phnum > kMaxProgramHeaders) {
    fail(ErrorCode::NotAKernel, std::to_string(header.e_phnum) + " program headers is too many");
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr)) {
    fail(ErrorCode::NotAKernel, "program header size " + std::to_string(header.e_phentsize) +
                                    " is not " + std::to_string(sizeof(Elf64_Phdr)));
  }
  if (!range_within(header.e_phoff, std::uint64_t{header.e_phnum} * sizeof(Elf64_Phdr),
                    image.size())) {
    fail(ErrorCode::NotAKernel, "program headers extend past the end of the file");
  }
  return header;
}

std::vector<Elf64_Phdr> read_load_segments(std::span<const std::uint8_t> image,
                                           const Elf64_Ehdr& header,
                                           const GuestMemory& memory) {
  std::vector<Elf64_Phdr> segments;
  for (std::uint16_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    std::memcpy(&segment, image.data() + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof segment);
    if (segment.p_type != PT_LOAD || segment.p_memsz == 0) {
      continue;
    }
    const std::string name = "segment " + std::to_string(i);
    if (segment.p_filesz > segment.p_memsz) {
      fail(ErrorCode::NotAKernel, name + " has more file bytes than memory bytes");
    }
    if (!range_within(segment.p_offset, segment.p_filesz, image.size())) {
      fail(ErrorCode::NotAKernel, name + " extends past the end of the file");
    }
    if (segment.p_paddr < layout::kKernelLoadAddress) {
      fail(ErrorCode::UnsupportedKernel,
           name + " at " + to_hex(segment.p_paddr) +
               " is below 1 MiB, where the VMM keeps boot structures");
    }
    if (!memory.contains(segment.p_paddr, segment.p_memsz)) {
      fail(ErrorCode::KernelTooLarge, name + " [" + to_hex(segment.p_paddr) + ", +" +
                                          to_hex(segment.p_memsz) +
                                          ") does not fit in guest RAM");
    }
    for (const Elf64_Phdr& other : segments) {
      const bool overlaps = segment.p_paddr < other.p_paddr + other.p_memsz &&
                            other.p_paddr < segment.p_paddr + segment.p_memsz;
      if (overlaps) {
        fail(ErrorCode::NotAKernel, name + " overlaps another loadable segment");
      }
    }
    segments.push_back(segment);
  }
  if (segments.empty()) {
    fail(ErrorCode::NotAKernel, "no loadable segments");
  }
  return segments;
}

// vmlinux's e_entry is physical (phys_startup_64); other linkers give the
// virtual address. Accept either, as long as it lands inside loaded code.
std::uint64_t physical_entry_point(const Elf64_Ehdr& header,
                                   const std::vector<Elf64_Phdr>& segments) {
  for (const Elf64_Phdr& segment : segments) {
    if (header.e_entry >= segment.p_paddr && header.e_entry - segment.p_paddr < segment.p_memsz) {
      return header.e_entry;
    }
  }
  for (const Elf64_Phdr& segment : segments) {
    if (header.e_entry >= segment.p_vaddr && header.e_entry - segment.p_vaddr < segment.p_memsz) {
      return segment.p_paddr + (header.e_entry - segment.p_vaddr);
    }
  }
  fail(ErrorCode::NotAKernel,
       "entry point " + to_hex(header.e_entry) + " is outside every loadable segment");
}

}  // namespace

bool has_elf_magic(std::span<const std::uint8_t> image) {
  return image.size() >= SELFMAG && std::memcmp(image.data(), ELFMAG, SELFMAG) == 0;
}

LoadedKernel load_elf_kernel(std::span<const std::uint8_t> image, const GuestMemory& memory) {
  if (!has_elf_magic(image)) {
    throw NestboxError(ErrorCode::NotAKernel, "not an ELF file (no \\x7fELF magic)");
  }
  const Elf64_Ehdr header = read_elf_header(image);
  const std::vector<Elf64_Phdr> segments = read_load_segments(image, header, memory);
  const std::uint64_t entry = physical_entry_point(header, segments);

  // Everything is validated before the first byte is written.
  std::uint64_t load_start = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t load_end = 0;
  for (const Elf64_Phdr& segment : segments) {
    const std::span<std::uint8_t> target = memory.span(segment.p_paddr, segment.p_memsz);
    std::copy_n(image.data() + segment.p_offset, segment.p_filesz, target.data());
    std::fill(target.begin() + static_cast<std::ptrdiff_t>(segment.p_filesz), target.end(), 0);
    load_start = std::min(load_start, segment.p_paddr);
    load_end = std::max(load_end, segment.p_paddr + segment.p_memsz);
  }
  return LoadedKernel{KernelFormat::Elf, entry, load_start, load_end, std::nullopt};
}

}  // namespace nestbox::x86
