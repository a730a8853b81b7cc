#include "kvm/kvm_ioctl.h"

#include <cstring>
#include <string>

#include "common/nestbox_error.h"

namespace nestbox::kvm {

void throw_ioctl_failure(std::string_view operation, int error_number) {
  throw NestboxError(ErrorCode::KvmFailure,
                     std::string(operation) + " failed: " + std::strerror(error_number));
}

}  // namespace nestbox::kvm
