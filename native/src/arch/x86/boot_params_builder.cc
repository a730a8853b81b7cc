#include "arch/x86/boot_params_builder.h"

#include <algorithm>
#include <string>
#include <vector>

#include "arch/x86/bzimage_loader.h"
#include "arch/x86/memory_layout.h"
#include "common/nestbox_error.h"

namespace nestbox::x86 {

namespace {

// What a loader puts in the header of a kernel that did not come with one.
setup_header minimal_setup_header() {
  setup_header header{};
  header.boot_flag = kBootFlag;
  header.header = kHeaderMagic;
  header.version = kSynthesizedBootProtocol;
  header.loadflags = LOADED_HIGH;
  header.kernel_alignment = 0x1000000;  // what x86-64 Linux uses (CONFIG_PHYSICAL_ALIGN)
  header.xloadflags = XLF_KERNEL_64;
  header.initrd_addr_max = static_cast<std::uint32_t>(kDefaultInitrdAddressMax);
  header.cmdline_size = static_cast<std::uint32_t>(layout::kCommandLineCapacity - 1);
  return header;
}

}  // namespace

std::uint64_t max_command_line_length(const std::optional<setup_header>& kernel_header) {
  const std::uint64_t ours = layout::kCommandLineCapacity - 1;
  if (!kernel_header) {
    return ours;
  }
  // Protocol 2.06+ declares the limit; older kernels took 255 characters.
  const std::uint64_t kernels =
      kernel_header->version >= 0x0206 ? kernel_header->cmdline_size : 255;
  return std::min(ours, kernels);
}

boot_params build_boot_params(const BootParamsInputs& inputs, std::uint64_t command_line_address) {
  if (inputs.e820.size() > E820_MAX_ENTRIES_ZEROPAGE) {
    throw NestboxError(ErrorCode::InvalidConfig, "too many e820 entries for boot_params");
  }
  boot_params params{};
  params.hdr = inputs.kernel_header.value_or(minimal_setup_header());
  params.hdr.type_of_loader = kLoaderTypeUndefined;
  // The 64-bit entry never runs the real-mode code, so QUIET and KEEP_SEGMENTS
  // stay as the kernel declared; the heap is announced as the protocol asks.
  if (params.hdr.version >= kHeapEndProtocol) {
    params.hdr.loadflags |= CAN_USE_HEAP;
    params.hdr.heap_end_ptr = kHeapEndPointer;
  }
  params.hdr.cmd_line_ptr = static_cast<std::uint32_t>(command_line_address);
  params.ext_cmd_line_ptr = static_cast<std::uint32_t>(command_line_address >> 32);
  params.hdr.ramdisk_image = 0;
  params.hdr.ramdisk_size = 0;
  if (inputs.initrd) {
    params.hdr.ramdisk_image = static_cast<std::uint32_t>(inputs.initrd->address);
    params.ext_ramdisk_image = static_cast<std::uint32_t>(inputs.initrd->address >> 32);
    params.hdr.ramdisk_size = static_cast<std::uint32_t>(inputs.initrd->size);
    params.ext_ramdisk_size = static_cast<std::uint32_t>(inputs.initrd->size >> 32);
  }
  params.acpi_rsdp_addr = inputs.acpi_rsdp_address;
  params.e820_entries = static_cast<std::uint8_t>(inputs.e820.size());
  for (std::size_t i = 0; i < inputs.e820.size(); ++i) {
    params.e820_table[i].addr = inputs.e820[i].address;
    params.e820_table[i].size = inputs.e820[i].size;
    params.e820_table[i].type = static_cast<std::uint32_t>(inputs.e820[i].type);
  }
  return params;
}

void write_boot_params(const GuestMemory& memory, const BootParamsInputs& inputs) {
  const std::uint64_t limit = max_command_line_length(inputs.kernel_header);
  if (inputs.command_line.size() > limit) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "the kernel command line is " + std::to_string(inputs.command_line.size()) +
                           " bytes; this kernel accepts at most " + std::to_string(limit));
  }
  if (inputs.command_line.find('\0') != std::string_view::npos) {
    throw NestboxError(ErrorCode::InvalidConfig, "the kernel command line contains a NUL byte");
  }
  std::vector<std::uint8_t> text(inputs.command_line.begin(), inputs.command_line.end());
  text.push_back(0);
  memory.write(layout::kCommandLineAddress, text);
  memory.write_object(layout::kBootParamsAddress,
                      build_boot_params(inputs, layout::kCommandLineAddress));
}

}  // namespace nestbox::x86
