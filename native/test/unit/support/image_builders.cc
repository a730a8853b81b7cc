#include "support/image_builders.h"

#include <elf.h>

#include <cstring>

namespace nestbox::test {

namespace {

template <typename T>
void put(std::vector<std::uint8_t>& bytes, std::size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

}  // namespace

std::vector<std::uint8_t> build_bzimage(const BzImageSpec& spec) {
  const std::size_t setup_size = (std::size_t{spec.setup_sects == 0 ? 4u : spec.setup_sects} + 1) * 512;
  std::vector<std::uint8_t> image(setup_size, 0);
  setup_header header{};
  header.setup_sects = spec.setup_sects;
  header.syssize = spec.syssize.value_or(
      static_cast<std::uint32_t>((spec.protected_mode.size() + 15) / 16));
  header.boot_flag = 0xaa55;
  // jump: EB xx, where xx reaches the end of a 2.15 header at 0x268.
  header.jump = static_cast<std::uint16_t>(0xeb | ((0x268 - 0x202) << 8));
  header.header = 0x53726448;
  header.version = spec.version;
  header.loadflags = spec.loadflags;
  header.code32_start = 0x100000;
  header.kernel_alignment = spec.kernel_alignment;
  header.relocatable_kernel = spec.relocatable_kernel;
  header.initrd_addr_max = spec.initrd_addr_max;
  header.payload_offset = spec.payload_offset;
  header.payload_length = spec.payload_length;
  header.xloadflags = spec.xloadflags;
  header.cmdline_size = spec.cmdline_size;
  header.pref_address = spec.pref_address;
  header.init_size = spec.init_size != 0
                         ? spec.init_size
                         : static_cast<std::uint32_t>((spec.protected_mode.size() + 4095) & ~4095u);
  std::memcpy(image.data() + 0x1f1, &header, sizeof header);
  image.insert(image.end(), spec.protected_mode.begin(), spec.protected_mode.end());
  return image;
}

std::vector<std::uint8_t> build_elf(const ElfSpec& spec) {
  const std::size_t headers_size = sizeof(Elf64_Ehdr) + spec.segments.size() * sizeof(Elf64_Phdr);
  std::vector<std::uint8_t> image(headers_size, 0);

  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = EM_X86_64;
  header.e_version = EV_CURRENT;
  header.e_entry = spec.entry;
  header.e_phoff = sizeof(Elf64_Ehdr);
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_phentsize = sizeof(Elf64_Phdr);
  header.e_phnum = static_cast<std::uint16_t>(spec.segments.size());
  put(image, 0, header);

  for (std::size_t i = 0; i < spec.segments.size(); ++i) {
    const ElfSegmentSpec& segment = spec.segments[i];
    Elf64_Phdr program{};
    program.p_type = PT_LOAD;
    program.p_flags = PF_R | PF_X;
    program.p_offset = image.size();
    program.p_vaddr = segment.virtual_address;
    program.p_paddr = segment.physical_address;
    program.p_filesz = segment.bytes.size();
    program.p_memsz = segment.memory_size;
    program.p_align = 0x1000;
    put(image, sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), program);
    image.insert(image.end(), segment.bytes.begin(), segment.bytes.end());
  }
  return image;
}

}  // namespace nestbox::test
