// The KVM capabilities Nestbox relies on, with what each one is for, so a
// missing one can be reported in words a user (or a bug report) can use.
#pragma once

#include <span>
#include <string_view>

namespace nestbox::kvm {

struct RequiredCapability {
  int id;                   // KVM_CAP_*
  std::string_view name;    // "KVM_CAP_IRQCHIP"
  std::string_view purpose; // what breaks without it
};

std::span<const RequiredCapability> required_capabilities();

}  // namespace nestbox::kvm
