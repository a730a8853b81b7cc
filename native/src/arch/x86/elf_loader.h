// ELF64 x86-64 executables (vmlinux, our test guests): PT_LOAD segments are
// placed at their physical addresses; the entry point must lie in one of them.
#pragma once

#include <cstdint>
#include <span>

#include "arch/x86/loaded_kernel.h"
#include "memory/guest_memory.h"

namespace nestbox::x86 {

bool has_elf_magic(std::span<const std::uint8_t> image);

LoadedKernel load_elf_kernel(std::span<const std::uint8_t> image, const GuestMemory& memory);

}  // namespace nestbox::x86
