// The one exception type the native core throws for failures a user can act on.
// Each carries a stable code so the UI can tell "no such kernel file" from
// "KVM is unavailable" without parsing messages.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace nestbox {

enum class ErrorCode {
  InvalidConfig,      // a machine setting is out of range or malformed
  KernelNotFound,     // the kernel path does not exist
  KernelUnreadable,   // it exists but cannot be read (permissions, a directory, I/O error)
  NotAKernel,         // the file is not in any format we can boot
  UnsupportedKernel,  // a recognised format, but a variant we cannot boot
  KernelTooLarge,     // the image does not fit in guest memory
  GuestMemory,        // an access outside guest RAM, or RAM could not be allocated
  KvmUnavailable,     // /dev/kvm is missing, inaccessible or lacks a capability
  KvmFailure,         // a KVM ioctl failed unexpectedly
  InvalidState,       // an operation not allowed in the machine's current state
};

constexpr std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidConfig: return "INVALID_CONFIG";
    case ErrorCode::KernelNotFound: return "KERNEL_NOT_FOUND";
    case ErrorCode::KernelUnreadable: return "KERNEL_UNREADABLE";
    case ErrorCode::NotAKernel: return "NOT_A_KERNEL";
    case ErrorCode::UnsupportedKernel: return "UNSUPPORTED_KERNEL";
    case ErrorCode::KernelTooLarge: return "KERNEL_TOO_LARGE";
    case ErrorCode::GuestMemory: return "GUEST_MEMORY";
    case ErrorCode::KvmUnavailable: return "KVM_UNAVAILABLE";
    case ErrorCode::KvmFailure: return "KVM_FAILURE";
    case ErrorCode::InvalidState: return "INVALID_STATE";
  }
  return "UNKNOWN";
}

class NestboxError : public std::runtime_error {
 public:
  NestboxError(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}

  [[nodiscard]] ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace nestbox
