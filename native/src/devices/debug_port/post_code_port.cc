#include "devices/debug_port/post_code_port.h"

#include <algorithm>

namespace nestbox {

void PostCodePort::read(std::uint64_t, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), 0xff);
}

void PostCodePort::write(std::uint64_t, std::span<const std::uint8_t> data) {
  std::uint32_t value = 0;
  const std::size_t width = std::min<std::size_t>(data.size(), sizeof(value));
  for (std::size_t i = 0; i < width; ++i) {
    value |= static_cast<std::uint32_t>(data[i]) << (8 * i);
  }
  last_value_.store(value, std::memory_order_relaxed);
  writes_.fetch_add(1, std::memory_order_relaxed);
}

PostCodeStats PostCodePort::stats() const {
  return {last_value_.load(std::memory_order_relaxed), writes_.load(std::memory_order_relaxed)};
}

PostCodePortState PostCodePort::save() const {
  return {last_value_.load(std::memory_order_relaxed)};
}

void PostCodePort::restore(const PostCodePortState& state) {
  last_value_.store(state.last_value, std::memory_order_relaxed);
}

}  // namespace nestbox
