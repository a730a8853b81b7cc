// A small encoder for ACPI Machine Language (ACPI 6.x, chapter 20): just the
// data objects and named scopes our DSDT needs. Each function returns the
// complete encoding of one term, so terms nest by plain composition:
//   scope("\\_SB_", device("COM1", concat({name("_HID", eisa_id("PNP0501")), ...})))
// Names are ACPI paths ("\\_SB_.COM1", "^PCI0", "_S5"); segments shorter than
// four characters are padded with '_'. Malformed input throws NestboxError.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

namespace nestbox::x86::acpi::aml {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint8_t kZeroOp = 0x00;
inline constexpr std::uint8_t kOneOp = 0x01;
inline constexpr std::uint8_t kNameOp = 0x08;
inline constexpr std::uint8_t kBytePrefix = 0x0a;
inline constexpr std::uint8_t kWordPrefix = 0x0b;
inline constexpr std::uint8_t kDWordPrefix = 0x0c;
inline constexpr std::uint8_t kStringPrefix = 0x0d;
inline constexpr std::uint8_t kQWordPrefix = 0x0e;
inline constexpr std::uint8_t kScopeOp = 0x10;
inline constexpr std::uint8_t kBufferOp = 0x11;
inline constexpr std::uint8_t kPackageOp = 0x12;
inline constexpr std::uint8_t kMethodOp = 0x14;
inline constexpr std::uint8_t kDualNamePrefix = 0x2e;
inline constexpr std::uint8_t kMultiNamePrefix = 0x2f;
inline constexpr std::uint8_t kExtOpPrefix = 0x5b;
inline constexpr std::uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
inline constexpr std::uint8_t kRootChar = '\\';
inline constexpr std::uint8_t kParentPrefixChar = '^';
inline constexpr std::uint8_t kReturnOp = 0xa4;
inline constexpr std::uint8_t kNullName = 0x00;

// The largest PkgLength value (28 bits).
inline constexpr std::uint32_t kMaxPackageLength = 0x0fff'ffff;

// PkgLength for a value that already counts the encoding's own bytes: 1 byte
// up to 63, then a lead byte (count in bits 7:6, low nibble in 3:0) and 1-3
// more bytes of 8 bits each.
Bytes encode_package_length(std::uint32_t value);
// PkgLength followed by `body`, choosing the shortest encoding that fits.
Bytes with_package_length(std::span<const std::uint8_t> body);

Bytes name_segment(std::string_view segment);
Bytes name_string(std::string_view path);
// Zero, One, or the smallest of Byte/Word/DWord/QWord that holds `value`.
Bytes integer(std::uint64_t value);
Bytes string(std::string_view text);
// A compressed EISA ID ("PNP0501") as the 32-bit integer _HID expects.
Bytes eisa_id(std::string_view id);

Bytes name(std::string_view path, std::span<const std::uint8_t> object);
Bytes package(std::span<const Bytes> elements);
Bytes package(std::initializer_list<Bytes> elements);
Bytes buffer(std::span<const std::uint8_t> data);
Bytes scope(std::string_view path, std::span<const std::uint8_t> terms);
Bytes device(std::string_view path, std::span<const std::uint8_t> terms);
Bytes method(std::string_view path, std::uint8_t arg_count, bool serialized,
             std::span<const std::uint8_t> terms);
Bytes return_value(std::span<const std::uint8_t> value);

Bytes concat(std::initializer_list<Bytes> parts);
void append(Bytes& to, std::span<const std::uint8_t> from);

}  // namespace nestbox::x86::acpi::aml
