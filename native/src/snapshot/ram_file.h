// A snapshot's RAM file: guest RAM, region after region, exactly as large as
// all regions together, with every all-zero page left as a hole. It has no
// header, so GuestMemory::map_file_private can map it directly at offset 0;
// what describes it (the region layout and file size) is the RAM section of
// the state file (encode_ram_section below).
//
// Revert does not read this file: it maps it MAP_PRIVATE, so pages load on
// first touch and revert time does not grow with guest RAM.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "memory/guest_memory.h"
#include "snapshot/byte_codec.h"
#include "snapshot/state_file.h"

namespace nestbox::snapshot {

inline constexpr std::uint64_t kRamFilePageSize = 4096;

// Called now and then while the RAM file is written, with how much of guest
// RAM has been dealt with (scanned or skipped as never touched) out of the
// total. Runs on the writing thread. Throw from it to cancel: the temporary
// file is removed and nothing is left under the final name.
using RamFileProgress = std::function<void(std::uint64_t bytes_done, std::uint64_t bytes_total)>;

// True when the 4096 bytes at `page` are all zero (a word-wise scan that
// stops at the first non-zero 64-byte block).
[[nodiscard]] bool is_zero_page(const std::uint8_t* page);

// Writes `memory` to `path` (replacing any file there only once the new one
// is complete and synced; mode 0600). Only pages holding a non-zero byte are
// written; the file is sized first with ftruncate so the rest are holes
// (SEEK_HOLE finds them; st_blocks counts only what was written). Returns
// the number of bytes written. Throws SnapshotError (Io) on failure.
//
// The guest must not change RAM meanwhile: vCPUs paused and device DMA
// (virtio queues on the I/O thread) quiesced.
std::uint64_t write_ram_file(const GuestMemory& memory, const std::string& path,
                             const RamFileProgress& progress = {});

// The RAM section of the state file: the region layout and the RAM file's
// size, checked against the file before it is mapped.
inline constexpr std::uint32_t kRamSectionTag = section_tag("RAM ");
inline constexpr std::uint32_t kRamSectionVersion = 1;
inline constexpr std::uint32_t kMaxRamRegions = 64;

struct RamLayout {
  std::vector<GuestRamRegion> regions;
  std::uint64_t file_size = 0;  // the sum of the region sizes
};

[[nodiscard]] std::vector<std::uint8_t> encode_ram_section(std::span<const GuestRamRegion> regions);
// Refuses (SnapshotError, Malformed) regions that are empty, unaligned,
// unsorted, overlapping or whose sizes overflow.
[[nodiscard]] RamLayout decode_ram_section(ByteReader in);

// Maps the RAM file for a restore after checking it against `layout`:
// SnapshotError (Mismatch) naming the file when its size differs.
[[nodiscard]] GuestMemory map_ram_file(const RamLayout& layout, const std::string& path);

}  // namespace nestbox::snapshot
