// x86 segment descriptors: the 8-byte GDT encoding and the unpacked form the
// VMM hands to KVM as segment register state. Both come from one struct so the
// GDT in guest memory and the loaded segment registers cannot disagree.
#pragma once

#include <cstdint>

namespace nestbox::x86 {

struct SegmentDescriptor {
  std::uint32_t base = 0;
  std::uint32_t limit = 0;     // 20 bits; in 4 KiB units when `granularity`
  std::uint8_t type = 0;       // 4 bits: e.g. 0xb execute/read accessed, 0x3 read/write accessed
  bool code_or_data = false;   // the S bit: false for system descriptors (TSS, LDT)
  std::uint8_t privilege = 0;  // DPL, 0-3
  bool present = false;
  bool available = false;      // AVL, free for software
  bool long_mode = false;      // L: 64-bit code segment
  bool default_32bit = false;  // D/B
  bool granularity = false;    // G
};

std::uint64_t encode_segment_descriptor(const SegmentDescriptor& descriptor);
SegmentDescriptor decode_segment_descriptor(std::uint64_t raw);

}  // namespace nestbox::x86
