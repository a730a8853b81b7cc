// The Linux "zero page" (struct boot_params): the setup header, a pointer to
// the command line and the e820 map. Built for every format so ELF kernels
// and test guests get the same information a bzImage does (RSI points to it).
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "arch/x86/e820.h"
#include "memory/guest_memory.h"

namespace nestbox::x86 {

static_assert(sizeof(boot_params) == 4096, "boot_params must be exactly one page");

struct BootParamsInputs {
  // The header from a bzImage; without one (ELF, flat) a minimal header is made.
  std::optional<setup_header> kernel_header;
  std::string_view command_line;
  std::span<const E820Entry> e820;
};

// Longest command line (without its NUL) the kernel and our layout accept.
std::uint64_t max_command_line_length(const std::optional<setup_header>& kernel_header);

boot_params build_boot_params(const BootParamsInputs& inputs, std::uint64_t command_line_address);

// Writes the command line (NUL-terminated) and boot_params at the layout's
// addresses. Throws InvalidConfig when the command line is too long for the kernel.
void write_boot_params(const GuestMemory& memory, const BootParamsInputs& inputs);

}  // namespace nestbox::x86
