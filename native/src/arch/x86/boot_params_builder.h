// The Linux "zero page" (struct boot_params, Documentation/arch/x86/zero-page.rst):
// the setup header, the command line pointer, the initrd, the ACPI RSDP and the e820 map. Built for every format so ELF kernels
// and test guests get the same information a bzImage does (RSI points to it).
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "arch/x86/e820.h"
#include "arch/x86/initrd_loader.h"
#include "memory/guest_memory.h"

namespace nestbox::x86 {

static_assert(sizeof(boot_params) == 4096, "boot_params must be exactly one page");

struct BootParamsInputs {
  // The header from a bzImage; without one (ELF, flat) a minimal header is made.
  std::optional<setup_header> kernel_header;
  std::string_view command_line;
  std::span<const E820Entry> e820;
  // Where load_initrd() put the initial ramdisk, if there is one.
  std::optional<LoadedInitrd> initrd = std::nullopt;
  // The ACPI RSDP's guest address (0: none; the kernel then scans 0xE0000-0xFFFFF).
  // Written to boot_params.acpi_rsdp_addr (0x070), which zero-page.rst gives
  // for every protocol: the 2.14 setup-header field was withdrawn ("DO NOT USE").
  std::uint64_t acpi_rsdp_address = 0;
};

// The boot protocol version of the header made up for kernels without one
// (ELF, flat): every field we fill in exists in 2.15.
inline constexpr std::uint16_t kSynthesizedBootProtocol = 0x020f;
// Protocol 2.02 added heap_end_ptr and the 32-bit cmd_line_ptr.
inline constexpr std::uint16_t kHeapEndProtocol = 0x0202;
// heap_end_ptr: the end of the real-mode setup heap, as an offset from the
// setup code minus 0x200 (the value boot.rst's example layout gives). Nothing
// reads it on the 64-bit path; it is set because the protocol asks loaders to.
inline constexpr std::uint16_t kHeapEndPointer = 0xe000 - 0x200;

// Longest command line (without its NUL) the kernel and our layout accept.
std::uint64_t max_command_line_length(const std::optional<setup_header>& kernel_header);

boot_params build_boot_params(const BootParamsInputs& inputs, std::uint64_t command_line_address);

// Writes the command line (NUL-terminated) and boot_params at the layout's
// addresses. Throws InvalidConfig when the command line is too long for the kernel.
void write_boot_params(const GuestMemory& memory, const BootParamsInputs& inputs);

}  // namespace nestbox::x86
