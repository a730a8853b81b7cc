#include "arch/x86/kernel_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/nestbox_error.h"
#include "common/unique_fd.h"

namespace nestbox::x86 {

namespace {

[[noreturn]] void throw_unreadable(const std::string& path, int error_number) {
  if (error_number == ENOENT || error_number == ENOTDIR) {
    throw NestboxError(ErrorCode::KernelNotFound, "kernel file not found: " + path);
  }
  throw NestboxError(ErrorCode::KernelUnreadable,
                     "cannot read kernel file " + path + ": " + std::strerror(error_number));
}

}  // namespace

std::vector<std::uint8_t> read_kernel_file(const std::string& path) {
  if (path.empty()) {
    throw NestboxError(ErrorCode::InvalidConfig, "no kernel file given");
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    throw_unreadable(path, errno);
  }
  struct stat status{};
  if (::fstat(fd.get(), &status) != 0) {
    throw_unreadable(path, errno);
  }
  if (S_ISDIR(status.st_mode)) {
    throw NestboxError(ErrorCode::KernelUnreadable, path + " is a directory, not a kernel file");
  }
  if (!S_ISREG(status.st_mode)) {
    throw NestboxError(ErrorCode::KernelUnreadable, path + " is not a regular file");
  }
  if (status.st_size == 0) {
    throw NestboxError(ErrorCode::NotAKernel, path + " is empty, not a kernel");
  }
  if (static_cast<std::uint64_t>(status.st_size) > kMaxKernelFileSize) {
    throw NestboxError(ErrorCode::KernelTooLarge,
                       path + " is " + std::to_string(status.st_size >> 20) +
                           " MiB; kernel images over " +
                           std::to_string(kMaxKernelFileSize >> 20) + " MiB are not accepted");
  }

  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(status.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t count = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_unreadable(path, errno);
    }
    if (count == 0) {
      // The file shrank while we read it.
      bytes.resize(done);
      break;
    }
    done += static_cast<std::size_t>(count);
  }
  return bytes;
}

}  // namespace nestbox::x86
