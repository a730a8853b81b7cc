// Reads a kernel image (or an initrd) from disk, turning each way that can fail into an
// error that says what is wrong with the path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nestbox::x86 {

// Largest image accepted; far above any real kernel, small enough to read into memory.
inline constexpr std::uint64_t kMaxKernelFileSize = 512ull * 1024 * 1024;
// Largest initrd accepted; it must also fit in guest RAM below the PCI hole.
inline constexpr std::uint64_t kMaxInitrdFileSize = 2048ull * 1024 * 1024;

std::vector<std::uint8_t> read_kernel_file(const std::string& path);

// The same checks and messages for an initial ramdisk ("initrd file not found: …").
// Errors carry the KernelNotFound / KernelUnreadable / KernelTooLarge codes.
std::vector<std::uint8_t> read_initrd_file(const std::string& path);

}  // namespace nestbox::x86
