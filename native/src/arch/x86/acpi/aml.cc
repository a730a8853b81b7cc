#include "arch/x86/acpi/aml.h"

#include <algorithm>
#include <string>

#include "common/nestbox_error.h"

namespace nestbox::x86::acpi::aml {

namespace {

// Messages are built by appending: GCC 12 at -O3 reports false -Wrestrict /
// -Warray-bounds positives for `"literal" + std::string(...)` (GCC bug 105329).
[[noreturn]] void invalid(std::string_view message, std::string_view subject = {}) {
  std::string text = "AML: ";
  if (!subject.empty()) {
    text += '"';
    text.append(subject);
    text += "\" ";
  }
  text.append(message);
  throw NestboxError(ErrorCode::InvalidConfig, text);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_lead_name_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_lead_name_char(c) || (c >= '0' && c <= '9'); }

Bytes opcode_with_body(std::initializer_list<std::uint8_t> opcode, std::span<const std::uint8_t> body) {
  Bytes out(opcode);
  append(out, with_package_length(body));
  return out;
}

}  // namespace

void append(Bytes& to, std::span<const std::uint8_t> from) { to.insert(to.end(), from.begin(), from.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts) {
    append(out, part);
  }
  return out;
}

Bytes encode_package_length(std::uint32_t value) {
  if (value <= 0x3f) {
    return {static_cast<std::uint8_t>(value)};
  }
  if (value > kMaxPackageLength) {
    invalid("a package length exceeds the 28-bit limit");
  }
  const unsigned following = value <= 0xfff ? 1 : value <= 0xfffff ? 2 : 3;
  Bytes out{static_cast<std::uint8_t>((following << 6) | (value & 0x0f))};
  for (unsigned i = 0; i < following; ++i) {
    out.push_back(static_cast<std::uint8_t>(value >> (4 + 8 * i)));
  }
  return out;
}

Bytes with_package_length(std::span<const std::uint8_t> body) {
  // The length counts itself, so try each encoding size until the total fits it.
  for (std::size_t length_bytes = 1; length_bytes <= 4; ++length_bytes) {
    const std::size_t total = body.size() + length_bytes;
    const std::size_t limit = length_bytes == 1 ? 0x3f
                              : length_bytes == 2 ? 0xfff
                              : length_bytes == 3 ? 0xfffff
                                                  : kMaxPackageLength;
    if (total <= limit) {
      Bytes out = encode_package_length(static_cast<std::uint32_t>(total));
      append(out, body);
      return out;
    }
  }
  invalid("an object is too large for a package length (256 MiB)");
}

Bytes name_segment(std::string_view segment) {
  if (segment.empty() || segment.size() > 4 || !is_lead_name_char(segment[0])) {
    invalid("is not an ACPI name segment", segment);
  }
  Bytes out;
  for (char c : segment) {
    if (!is_name_char(c)) {
      invalid("is not an ACPI name segment", segment);
    }
    out.push_back(static_cast<std::uint8_t>(c));
  }
  out.resize(4, '_');
  return out;
}

Bytes name_string(std::string_view path) {
  Bytes out;
  if (!path.empty() && path.front() == '\\') {
    out.push_back(kRootChar);
    path.remove_prefix(1);
  } else {
    while (!path.empty() && path.front() == '^') {
      out.push_back(kParentPrefixChar);
      path.remove_prefix(1);
    }
  }
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    const std::size_t dot = path.find('.');
    segments.push_back(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    if (dot != std::string_view::npos && path.empty()) {
      segments.push_back({});  // a trailing dot: an empty segment, rejected below
    }
  }
  if (segments.empty()) {
    out.push_back(kNullName);
    return out;
  }
  if (segments.size() > 255) {
    invalid("a name path has more than 255 segments");
  }
  if (segments.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segments.size() > 2) {
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<std::uint8_t>(segments.size()));
  }
  for (std::string_view segment : segments) {
    append(out, name_segment(segment));
  }
  return out;
}

Bytes integer(std::uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  Bytes out;
  std::size_t width = 0;
  if (value <= 0xff) {
    out.push_back(kBytePrefix);
    width = 1;
  } else if (value <= 0xffff) {
    out.push_back(kWordPrefix);
    width = 2;
  } else if (value <= 0xffff'ffff) {
    out.push_back(kDWordPrefix);
    width = 4;
  } else {
    out.push_back(kQWordPrefix);
    width = 8;
  }
  for (std::size_t i = 0; i < width; ++i) {
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  return out;
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    const auto byte = static_cast<std::uint8_t>(c);
    if (byte == 0 || byte > 0x7f) {
      invalid("strings hold ASCII 0x01-0x7f only");
    }
    out.push_back(byte);
  }
  out.push_back(0);
  return out;
}

Bytes eisa_id(std::string_view id) {
  const auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (id.size() != 7 || !is_upper(id[0]) || !is_upper(id[1]) || !is_upper(id[2]) ||
      hex_digit(id[3]) < 0 || hex_digit(id[4]) < 0 || hex_digit(id[5]) < 0 || hex_digit(id[6]) < 0) {
    invalid("is not an EISA ID (three letters, four hex digits)", id);
  }
  // Three 5-bit letters (A = 1) and 16 bits of product number, stored big-endian.
  std::uint32_t big_endian = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    big_endian |= static_cast<std::uint32_t>(id[i] - 'A' + 1) << (26 - 5 * i);
  }
  for (std::size_t i = 3; i < 7; ++i) {
    big_endian |= static_cast<std::uint32_t>(hex_digit(id[i])) << (4 * (6 - i));
  }
  Bytes out{kDWordPrefix};
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(big_endian >> shift));
  }
  return out;
}

Bytes name(std::string_view path, std::span<const std::uint8_t> object) {
  Bytes out{kNameOp};
  append(out, name_string(path));
  append(out, object);
  return out;
}

Bytes package(std::span<const Bytes> elements) {
  if (elements.size() > 255) {
    invalid("a Package holds at most 255 elements");
  }
  Bytes body{static_cast<std::uint8_t>(elements.size())};
  for (const Bytes& element : elements) {
    append(body, element);
  }
  return opcode_with_body({kPackageOp}, body);
}

Bytes package(std::initializer_list<Bytes> elements) {
  return package(std::span<const Bytes>(elements.begin(), elements.size()));
}

Bytes buffer(std::span<const std::uint8_t> data) {
  Bytes body = integer(data.size());
  append(body, data);
  return opcode_with_body({kBufferOp}, body);
}

Bytes scope(std::string_view path, std::span<const std::uint8_t> terms) {
  Bytes body = name_string(path);
  append(body, terms);
  return opcode_with_body({kScopeOp}, body);
}

Bytes device(std::string_view path, std::span<const std::uint8_t> terms) {
  Bytes body = name_string(path);
  append(body, terms);
  return opcode_with_body({kExtOpPrefix, kDeviceOp}, body);
}

Bytes method(std::string_view path, std::uint8_t arg_count, bool serialized,
             std::span<const std::uint8_t> terms) {
  if (arg_count > 7) {
    invalid("a method takes at most 7 arguments");
  }
  Bytes body = name_string(path);
  body.push_back(static_cast<std::uint8_t>(arg_count | (serialized ? 0x08 : 0)));
  append(body, terms);
  return opcode_with_body({kMethodOp}, body);
}

Bytes return_value(std::span<const std::uint8_t> value) {
  // Sized up front: GCC 12 at -O3 misreads insert() after a one-byte
  // initializer as an out-of-bounds memcpy (-Warray-bounds false positive).
  Bytes out(1 + value.size());
  out[0] = kReturnOp;
  std::copy(value.begin(), value.end(), out.begin() + 1);
  return out;
}

}  // namespace nestbox::x86::acpi::aml
