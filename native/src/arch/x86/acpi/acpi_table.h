// Shared pieces of every ACPI system description table: a little-endian byte
// writer, the 36-byte header, and the checksum that makes a table sum to zero.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace nestbox::x86::acpi {

inline constexpr std::size_t kTableHeaderSize = 36;
inline constexpr std::size_t kTableLengthOffset = 4;
inline constexpr std::size_t kTableChecksumOffset = 9;
// Who made the tables, as the header's OEM and creator fields say.
inline constexpr std::string_view kOemId = "NESTBX";        // 6 bytes
inline constexpr std::string_view kOemTableId = "NESTBOX ";  // 8 bytes
inline constexpr std::string_view kCreatorId = "NBOX";       // 4 bytes

class ByteWriter {
 public:
  void u8(std::uint8_t value) { bytes_.push_back(value); }
  void u16(std::uint16_t value);
  void u32(std::uint32_t value);
  void u64(std::uint64_t value);
  // Exactly `size` bytes: `text` padded with spaces (or cut).
  void text(std::string_view text, std::size_t size);
  void zeros(std::size_t count) { bytes_.insert(bytes_.end(), count, 0); }
  void bytes(std::span<const std::uint8_t> data) { bytes_.insert(bytes_.end(), data.begin(), data.end()); }
  [[nodiscard]] std::size_t size() const { return bytes_.size(); }
  [[nodiscard]] std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

// The 8-bit sum of `bytes`; a valid table or RSDP sums to zero.
std::uint8_t byte_sum(std::span<const std::uint8_t> bytes);
// Sets bytes[checksum_offset] so that `bytes` sums to zero.
void set_checksum(std::span<std::uint8_t> bytes, std::size_t checksum_offset);

// A complete table: header (our OEM fields) + body, length and checksum set.
std::vector<std::uint8_t> make_table(std::string_view signature, std::uint8_t revision,
                                     std::span<const std::uint8_t> body);

}  // namespace nestbox::x86::acpi
