// Readable names for KVM exit reasons, for error messages and logs.
#pragma once

#include <cstdint>
#include <string_view>

namespace nestbox::kvm {

std::string_view exit_reason_name(std::uint32_t exit_reason);

}  // namespace nestbox::kvm
