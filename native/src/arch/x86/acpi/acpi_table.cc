#include "arch/x86/acpi/acpi_table.h"

#include <algorithm>

#include "common/nestbox_error.h"

namespace nestbox::x86::acpi {

void ByteWriter::u16(std::uint16_t value) {
  u8(static_cast<std::uint8_t>(value));
  u8(static_cast<std::uint8_t>(value >> 8));
}
void ByteWriter::u32(std::uint32_t value) {
  u16(static_cast<std::uint16_t>(value));
  u16(static_cast<std::uint16_t>(value >> 16));
}
void ByteWriter::u64(std::uint64_t value) {
  u32(static_cast<std::uint32_t>(value));
  u32(static_cast<std::uint32_t>(value >> 32));
}
void ByteWriter::text(std::string_view text, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    u8(i < text.size() ? static_cast<std::uint8_t>(text[i]) : ' ');
  }
}

std::uint8_t byte_sum(std::span<const std::uint8_t> bytes) {
  std::uint8_t sum = 0;
  for (std::uint8_t byte : bytes) {
    sum = static_cast<std::uint8_t>(sum + byte);
  }
  return sum;
}

void set_checksum(std::span<std::uint8_t> bytes, std::size_t checksum_offset) {
  bytes[checksum_offset] = 0;
  bytes[checksum_offset] = static_cast<std::uint8_t>(-byte_sum(bytes));
}

std::vector<std::uint8_t> make_table(std::string_view signature, std::uint8_t revision,
                                     std::span<const std::uint8_t> body) {
  if (signature.size() != 4) {
    throw NestboxError(ErrorCode::InvalidConfig, "an ACPI table signature has four characters");
  }
  const std::size_t length = kTableHeaderSize + body.size();
  if (length > 0xffff'ffff) {
    throw NestboxError(ErrorCode::InvalidConfig, "an ACPI table is larger than 4 GiB");
  }
  ByteWriter out;
  out.text(signature, 4);
  out.u32(static_cast<std::uint32_t>(length));
  out.u8(revision);
  out.u8(0);  // checksum, set below
  out.text(kOemId, 6);
  out.text(kOemTableId, 8);
  out.u32(1);  // OEM revision
  out.text(kCreatorId, 4);
  out.u32(1);  // creator revision
  out.bytes(body);
  std::vector<std::uint8_t> table = out.take();
  set_checksum(table, kTableChecksumOffset);
  return table;
}

}  // namespace nestbox::x86::acpi
