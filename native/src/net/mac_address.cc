#include "net/mac_address.h"

#include <cstdio>

namespace nestbox::net {

namespace {

// FNV-1a (simple, fully specified, no library that could change under us)
// followed by the splitmix64 finalizer, because FNV's low bits mix poorly for
// short ids that differ only in their last character.
std::uint64_t stable_hash(std::string_view text, std::uint8_t salt) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  const auto mix_in = [&hash](std::uint8_t byte) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  };
  for (const char c : text) {
    mix_in(static_cast<std::uint8_t>(c));
  }
  mix_in(salt);
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  return hash;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string MacAddress::to_string() const {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return text;
}

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  if (text.size() != 17) {
    return std::nullopt;
  }
  const char separator = text[2];
  if (separator != ':' && separator != '-') {
    return std::nullopt;
  }
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t at = i * 3;
    if (i > 0 && text[at - 1] != separator) {
      return std::nullopt;
    }
    const int high = hex_digit(text[at]);
    const int low = hex_digit(text[at + 1]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    mac.bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return mac;
}

MacAddress derive_mac_address(std::string_view vm_id, std::uint8_t nic_index) {
  const std::uint64_t hash = stable_hash(vm_id, nic_index);
  MacAddress mac;
  mac.bytes[0] = 0x02;  // locally administered, unicast
  for (std::size_t i = 1; i < 6; ++i) {
    mac.bytes[i] = static_cast<std::uint8_t>(hash >> (8 * (i - 1)));
  }
  return mac;
}

}  // namespace nestbox::net
