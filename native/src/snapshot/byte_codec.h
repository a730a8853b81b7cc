// A small typed serializer for snapshot sections: little-endian integers,
// length-prefixed byte strings, and plain structs (the KVM uapi structs) as
// size-prefixed raw bytes.
//
// ByteReader treats its input as hostile: every read is bounds-checked, every
// count is checked against the bytes that remain before anything is
// allocated, so a corrupt or crafted file can neither read out of bounds nor
// make us allocate more than the file's own size. Failures throw
// SnapshotError (Malformed) naming the context (the section) and offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace nestbox::snapshot {

class ByteWriter {
 public:
  void u8(std::uint8_t value) { bytes_.push_back(value); }
  void u16(std::uint16_t value) { little_endian(value, 2); }
  void u32(std::uint32_t value) { little_endian(value, 4); }
  void u64(std::uint64_t value) { little_endian(value, 8); }
  void boolean(bool value) { u8(value ? 1 : 0); }
  // Raw bytes, no length: the reader must know how many.
  void raw(std::span<const std::uint8_t> bytes) { bytes_.insert(bytes_.end(), bytes.begin(), bytes.end()); }
  // u64 length, then the bytes.
  void blob(std::span<const std::uint8_t> bytes) {
    u64(bytes.size());
    raw(bytes);
  }
  // u32 length, then UTF-8 bytes.
  void string(std::string_view text) {
    u32(static_cast<std::uint32_t>(text.size()));
    raw({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }
  // A plain struct as u32 size + its bytes. For fixed-layout ABI structs only
  // (linux/kvm.h): the size prefix lets the reader refuse a layout change.
  template <typename T>
  void pod(const T& value) {
    static_assert(std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>);
    u32(static_cast<std::uint32_t>(sizeof(T)));
    raw({reinterpret_cast<const std::uint8_t*>(&value), sizeof(T)});
  }

  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const { return bytes_; }
  [[nodiscard]] std::vector<std::uint8_t> take() { return std::move(bytes_); }
  [[nodiscard]] std::size_t size() const { return bytes_.size(); }

 private:
  void little_endian(std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) {
      bytes_.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
  }
  std::vector<std::uint8_t> bytes_;
};

class ByteReader {
 public:
  // `context` names what is being read ("section VCPU") in error messages.
  ByteReader(std::span<const std::uint8_t> bytes, std::string context)
      : bytes_(bytes), context_(std::move(context)) {}

  [[nodiscard]] std::uint8_t u8() { return static_cast<std::uint8_t>(little_endian(1)); }
  [[nodiscard]] std::uint16_t u16() { return static_cast<std::uint16_t>(little_endian(2)); }
  [[nodiscard]] std::uint32_t u32() { return static_cast<std::uint32_t>(little_endian(4)); }
  [[nodiscard]] std::uint64_t u64() { return little_endian(8); }
  // Exactly 0 or 1; anything else is corruption.
  [[nodiscard]] bool boolean();
  // `length` bytes as a view into the input (valid while the input is).
  [[nodiscard]] std::span<const std::uint8_t> raw(std::uint64_t length);
  // A blob of at most `max_length` bytes (and never more than remain).
  [[nodiscard]] std::vector<std::uint8_t> blob(std::uint64_t max_length);
  [[nodiscard]] std::string string(std::uint32_t max_length);
  // A u32 element count, refused when above `max_count` or when that many
  // elements of at least `min_element_size` bytes cannot fit in what remains:
  // so a vector sized from it is bounded by the input's size.
  [[nodiscard]] std::uint32_t count(std::uint32_t max_count, std::size_t min_element_size);

  template <typename T>
  [[nodiscard]] T pod(std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>);
    const std::uint32_t size = u32();
    if (size != sizeof(T)) {
      fail(std::string(what) + " is " + std::to_string(size) + " bytes, expected " +
           std::to_string(sizeof(T)));
    }
    T value;
    std::memcpy(&value, raw(sizeof(T)).data(), sizeof(T));
    return value;
  }

  [[nodiscard]] std::size_t offset() const { return offset_; }
  [[nodiscard]] std::size_t remaining() const { return bytes_.size() - offset_; }
  [[nodiscard]] const std::string& context() const { return context_; }
  // Throws unless every byte was consumed: trailing bytes mean the writer and
  // reader disagree about the layout.
  void expect_end() const;

  // Throws SnapshotError (Malformed): "<context>: <message> (at byte N)".
  [[noreturn]] void fail(const std::string& message) const;

 private:
  std::uint64_t little_endian(int width);
  void need(std::uint64_t length) const;

  std::span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
  std::string context_;
};

}  // namespace nestbox::snapshot
