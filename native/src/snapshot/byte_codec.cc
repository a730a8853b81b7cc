#include "snapshot/byte_codec.h"

#include "snapshot/snapshot_error.h"

namespace nestbox::snapshot {

void ByteReader::fail(const std::string& message) const {
  throw SnapshotError(SnapshotProblem::Malformed,
                      context_ + ": " + message + " (at byte " + std::to_string(offset_) + ")");
}

void ByteReader::need(std::uint64_t length) const {
  if (length > remaining()) {
    fail("needs " + std::to_string(length) + " more bytes, only " + std::to_string(remaining()) +
         " remain");
  }
}

std::uint64_t ByteReader::little_endian(int width) {
  need(static_cast<std::uint64_t>(width));
  std::uint64_t value = 0;
  for (int i = 0; i < width; ++i) {
    value |= static_cast<std::uint64_t>(bytes_[offset_ + static_cast<std::size_t>(i)]) << (8 * i);
  }
  offset_ += static_cast<std::size_t>(width);
  return value;
}

bool ByteReader::boolean() {
  const std::uint8_t value = u8();
  if (value > 1) {
    fail("a flag holds " + std::to_string(value) + " instead of 0 or 1");
  }
  return value == 1;
}

std::span<const std::uint8_t> ByteReader::raw(std::uint64_t length) {
  need(length);
  const std::span<const std::uint8_t> view = bytes_.subspan(offset_, static_cast<std::size_t>(length));
  offset_ += static_cast<std::size_t>(length);
  return view;
}

std::vector<std::uint8_t> ByteReader::blob(std::uint64_t max_length) {
  const std::uint64_t length = u64();
  if (length > max_length) {
    fail("a block of " + std::to_string(length) + " bytes exceeds the limit of " +
         std::to_string(max_length));
  }
  const std::span<const std::uint8_t> view = raw(length);  // checks what remains first
  return {view.begin(), view.end()};
}

std::string ByteReader::string(std::uint32_t max_length) {
  const std::uint32_t length = u32();
  if (length > max_length) {
    fail("a text of " + std::to_string(length) + " bytes exceeds the limit of " +
         std::to_string(max_length));
  }
  const std::span<const std::uint8_t> view = raw(length);
  return {reinterpret_cast<const char*>(view.data()), view.size()};
}

std::uint32_t ByteReader::count(std::uint32_t max_count, std::size_t min_element_size) {
  const std::uint32_t value = u32();
  if (value > max_count) {
    fail("a count of " + std::to_string(value) + " exceeds the limit of " +
         std::to_string(max_count));
  }
  // No overflow: value <= 2^32 and element sizes are small.
  if (min_element_size != 0 &&
      static_cast<std::uint64_t>(value) * min_element_size > remaining()) {
    fail("a count of " + std::to_string(value) + " elements cannot fit in the " +
         std::to_string(remaining()) + " bytes that remain");
  }
  return value;
}

void ByteReader::expect_end() const {
  if (remaining() != 0) {
    fail(std::to_string(remaining()) + " unexpected bytes at the end");
  }
}

}  // namespace nestbox::snapshot
