// Where virtio-rng's bytes come from. The VMM uses the host kernel's CSPRNG
// (getrandom(2)); tests inject a deterministic source.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

namespace nestbox::virtio {

// Fills `buffer` completely, or throws NestboxError.
using EntropySource = std::function<void(std::span<std::uint8_t> buffer)>;

// getrandom(2) without flags: the urandom pool, blocking only until the host
// pool is first initialized (long done by the time a VM runs).
EntropySource host_entropy_source();

}  // namespace nestbox::virtio
