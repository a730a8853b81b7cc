#include "common/hex.h"

#include <cstdio>

namespace nestbox {

std::string to_hex(std::uint64_t value) {
  char text[2 + 16 + 1];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace nestbox
