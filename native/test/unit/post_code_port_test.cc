#include <doctest/doctest.h>

#include <array>

#include "devices/debug_port/post_code_port.h"

using nestbox::PostCodePort;

TEST_CASE("port 0x80 keeps the last code of any width and reads all ones") {
  PostCodePort port;
  const std::array<std::uint8_t, 1> code{0x42};
  port.write(0, code);
  CHECK(port.stats().last_value == 0x42);
  const std::array<std::uint8_t, 4> wide{0x78, 0x56, 0x34, 0x12};
  port.write(0, wide);
  CHECK(port.stats().last_value == 0x12345678);
  CHECK(port.stats().writes == 2);
  std::array<std::uint8_t, 2> read{};
  port.read(0, read);
  CHECK(read == std::array<std::uint8_t, 2>{0xff, 0xff});

  PostCodePort copy;
  copy.restore(port.save());
  CHECK(copy.stats().last_value == 0x12345678);
}
