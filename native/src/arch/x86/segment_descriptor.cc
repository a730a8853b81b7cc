#include "arch/x86/segment_descriptor.h"

namespace nestbox::x86 {

std::uint64_t encode_segment_descriptor(const SegmentDescriptor& d) {
  const std::uint64_t base = d.base;
  const std::uint64_t limit = d.limit & 0xfffffu;
  const std::uint64_t access = (d.type & 0xfu) | (d.code_or_data ? 0x10u : 0u) |
                               ((d.privilege & 0x3u) << 5) | (d.present ? 0x80u : 0u);
  const std::uint64_t flags = (d.available ? 0x1u : 0u) | (d.long_mode ? 0x2u : 0u) |
                              (d.default_32bit ? 0x4u : 0u) | (d.granularity ? 0x8u : 0u);
  return (limit & 0xffffu) | ((base & 0xffffffu) << 16) | (access << 40) |
         ((limit >> 16) << 48) | (flags << 52) | ((base >> 24) << 56);
}

SegmentDescriptor decode_segment_descriptor(std::uint64_t raw) {
  SegmentDescriptor d;
  d.limit = static_cast<std::uint32_t>((raw & 0xffffu) | (((raw >> 48) & 0xfu) << 16));
  d.base = static_cast<std::uint32_t>(((raw >> 16) & 0xffffffu) | (((raw >> 56) & 0xffu) << 24));
  const auto access = static_cast<std::uint8_t>((raw >> 40) & 0xffu);
  d.type = access & 0xfu;
  d.code_or_data = (access & 0x10u) != 0;
  d.privilege = (access >> 5) & 0x3u;
  d.present = (access & 0x80u) != 0;
  const auto flags = static_cast<std::uint8_t>((raw >> 52) & 0xfu);
  d.available = (flags & 0x1u) != 0;
  d.long_mode = (flags & 0x2u) != 0;
  d.default_32bit = (flags & 0x4u) != 0;
  d.granularity = (flags & 0x8u) != 0;
  return d;
}

}  // namespace nestbox::x86
