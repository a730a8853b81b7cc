// The machine-state file of a snapshot: a versioned container of checksummed
// sections (vCPUs, KVM VM state, RAM layout, one per device, ...).
//
// Layout (all integers little-endian):
//   header   8 bytes magic "NBSNAP\r\n", u32 format version
//   section  u32 tag, u32 version, u64 payload length, u32 CRC-32, u32 flags (0),
//            payload. The CRC (zlib's crc32) covers the tag, version and length
//            fields as written, then the payload, so a flipped bit anywhere in
//            a section, its header included, is caught.
//   end      a section with tag kEndTag whose 8-byte payload is the u64 number
//            of sections before it; nothing may follow it.
//
// Tags are four ASCII characters (section_tag("VCPU")) so a hex dump is
// readable. Each tag appears at most once. A section's version is that
// section's own encoding; the format version changes only when the container
// itself changes or an old file can no longer be read at all.
//
// Readers name what they expect in SectionSpecs: required or optional, and
// the section versions they read. Sections a reader does not know are kept
// (and still checksummed) but otherwise ignored, so a newer Nestbox can add
// optional sections without locking older ones out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/byte_codec.h"

namespace nestbox::snapshot {

inline constexpr std::array<std::uint8_t, 8> kStateFileMagic = {'N', 'B', 'S', 'N',
                                                                'A', 'P', '\r', '\n'};
// The container format this Nestbox writes, and the oldest it still reads.
inline constexpr std::uint32_t kStateFormatVersion = 1;
inline constexpr std::uint32_t kOldestReadableStateFormatVersion = 1;
inline constexpr std::size_t kStateFileHeaderSize = 12;
inline constexpr std::size_t kSectionHeaderSize = 24;
// A state file is read whole into memory: refuse anything larger than this
// (it holds CPU and device state, never RAM).
inline constexpr std::uint64_t kMaxStateFileSize = 1ull << 30;

constexpr std::uint32_t section_tag(std::string_view four_chars) {
  std::uint32_t tag = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    tag |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(i < four_chars.size() ? four_chars[i] : ' '))
           << (8 * i);
  }
  return tag;
}
inline constexpr std::uint32_t kEndTag = section_tag("END!");

// "VCPU" for printable tags, else "0x12345678".
std::string tag_text(std::uint32_t tag);

struct SectionSpec {
  std::uint32_t tag;
  std::string_view description;  // "vCPU state", for messages
  bool required;
  std::uint32_t oldest_version;  // section versions this Nestbox reads
  std::uint32_t newest_version;
};

class StateFileWriter {
 public:
  // Throws std::logic_error on a duplicate tag or the reserved end tag.
  void add(std::uint32_t tag, std::uint32_t version, std::vector<std::uint8_t> payload);
  // The whole file.
  [[nodiscard]] std::vector<std::uint8_t> bytes() const;
  // Writes bytes() to `path` atomically (temp file, fsync, rename); returns
  // how many bytes the file holds.
  std::uint64_t write(const std::string& path) const;

 private:
  struct Pending {
    std::uint32_t tag;
    std::uint32_t version;
    std::vector<std::uint8_t> payload;
  };
  std::vector<Pending> sections_;
};

struct StateSection {
  std::uint32_t tag;
  std::uint32_t version;
  std::size_t offset;  // of the payload in the file
  std::size_t length;
};

class StateFile {
 public:
  // Validates everything before returning: magic, format version, each
  // section's bounds and checksum, duplicates, the end marker, the versions
  // of known sections and the presence of required ones. Throws
  // SnapshotError whose message starts with `source_name`.
  static StateFile parse(std::vector<std::uint8_t> bytes, std::span<const SectionSpec> specs,
                         std::string_view source_name);
  static StateFile read(const std::string& path, std::span<const SectionSpec> specs);

  [[nodiscard]] std::uint32_t format_version() const { return format_version_; }
  [[nodiscard]] std::span<const StateSection> sections() const { return sections_; }
  [[nodiscard]] const StateSection* find(std::uint32_t tag) const;
  [[nodiscard]] bool has(std::uint32_t tag) const { return find(tag) != nullptr; }
  // The payload of a present section (throws MissingSection otherwise).
  [[nodiscard]] std::span<const std::uint8_t> payload(std::uint32_t tag) const;
  [[nodiscard]] std::uint32_t version(std::uint32_t tag) const;
  // A reader over the payload whose errors name the file and the section.
  [[nodiscard]] ByteReader reader(std::uint32_t tag) const;

 private:
  StateFile(std::vector<std::uint8_t> bytes, std::string source_name, std::uint32_t format_version,
            std::vector<StateSection> sections)
      : bytes_(std::move(bytes)),
        source_name_(std::move(source_name)),
        format_version_(format_version),
        sections_(std::move(sections)) {}
  const StateSection& require(std::uint32_t tag) const;

  std::vector<std::uint8_t> bytes_;
  std::string source_name_;
  std::uint32_t format_version_;
  std::vector<StateSection> sections_;
};

}  // namespace nestbox::snapshot
