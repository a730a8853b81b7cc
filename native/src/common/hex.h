// Hex formatting for messages that quote guest addresses and register values.
#pragma once

#include <cstdint>
#include <string>

namespace nestbox {

std::string to_hex(std::uint64_t value);

}  // namespace nestbox
