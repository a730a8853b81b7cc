// One place that issues KVM ioctls, retries interruptions and turns failures
// into errors that name the operation.
#pragma once

#include <sys/ioctl.h>

#include <cerrno>
#include <string_view>

namespace nestbox::kvm {

[[noreturn]] void throw_ioctl_failure(std::string_view operation, int error_number);

// Issues `request` on `fd`, retrying EINTR and EAGAIN (both mean "try again"
// for the control ioctls; KVM_RUN has its own handling in KvmVcpu). Returns the
// ioctl's non-negative result.
template <typename Argument>
int checked_ioctl(int fd, unsigned long request, Argument argument, std::string_view operation) {
  for (;;) {
    const int result = ::ioctl(fd, request, argument);
    if (result >= 0) {
      return result;
    }
    if (errno != EINTR && errno != EAGAIN) {
      throw_ioctl_failure(operation, errno);
    }
  }
}

}  // namespace nestbox::kvm
