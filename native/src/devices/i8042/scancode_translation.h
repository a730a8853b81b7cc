// The 8042's scancode translation (command byte bit 6): the controller turns
// the keyboard's set 2 bytes into the set 1 (XT) bytes that old software
// expects, before the guest sees them. A 0xF0 (set 2 break prefix) is
// swallowed and sets bit 7 of the next translated byte. Linux turns the bit
// on, so this is how a Linux guest sees every key and every keyboard reply.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nestbox::i8042 {

// One byte through the controller's translation table (no 0xF0 handling).
[[nodiscard]] std::uint8_t translate_byte(std::uint8_t set2_byte);

// A stream of keyboard bytes, with the 0xF0 prefix folded into the byte after
// it. A trailing 0xF0 yields nothing (its byte never came).
[[nodiscard]] std::vector<std::uint8_t> translate_bytes(std::span<const std::uint8_t> set2_bytes);

}  // namespace nestbox::i8042
