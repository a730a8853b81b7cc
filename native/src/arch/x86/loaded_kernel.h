// What loading a kernel image into guest memory produced.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <optional>

#include "arch/x86/kernel_format.h"

namespace nestbox::x86 {

struct LoadedKernel {
  KernelFormat format;               // never Auto: the format actually loaded
  std::uint64_t entry_point;         // guest physical address of the 64-bit entry
  std::uint64_t load_start;          // guest physical range the kernel occupies,
  std::uint64_t load_end;            // including room it reserves (bzImage init_size)
  std::optional<setup_header> linux_setup_header;  // bzImage: copied into boot_params
};

}  // namespace nestbox::x86
