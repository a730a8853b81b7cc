// The kernel image formats the direct-boot loader understands.
#pragma once

#include <optional>
#include <string_view>

namespace nestbox::x86 {

enum class KernelFormat {
  Auto,     // ELF or bzImage, recognised by their headers
  Flat,     // raw 64-bit code loaded at 1 MiB and entered at its first byte
  Elf,      // ELF64 x86-64 executable such as vmlinux, loaded by program headers
  BzImage,  // Linux bzImage, loaded per the Linux x86 boot protocol
};

constexpr std::string_view kernel_format_name(KernelFormat format) {
  switch (format) {
    case KernelFormat::Auto: return "auto";
    case KernelFormat::Flat: return "flat";
    case KernelFormat::Elf: return "elf";
    case KernelFormat::BzImage: return "bzimage";
  }
  return "auto";
}

constexpr std::optional<KernelFormat> parse_kernel_format(std::string_view name) {
  for (KernelFormat format :
       {KernelFormat::Auto, KernelFormat::Flat, KernelFormat::Elf, KernelFormat::BzImage}) {
    if (kernel_format_name(format) == name) {
      return format;
    }
  }
  return std::nullopt;
}

}  // namespace nestbox::x86
