#include "arch/x86/kernel_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/nestbox_error.h"
#include "common/unique_fd.h"

namespace nestbox::x86 {

namespace {

// What is being read, for the messages: "kernel" or "initrd".
struct BootFileKind {
  std::string_view name;
  std::uint64_t max_size;
};

constexpr BootFileKind kKernel{"kernel", kMaxKernelFileSize};
constexpr BootFileKind kInitrd{"initrd", kMaxInitrdFileSize};

[[noreturn]] void throw_unreadable(const BootFileKind& kind, const std::string& path,
                                   int error_number) {
  const std::string name(kind.name);
  if (error_number == ENOENT || error_number == ENOTDIR) {
    throw NestboxError(ErrorCode::KernelNotFound, name + " file not found: " + path);
  }
  throw NestboxError(ErrorCode::KernelUnreadable,
                     "cannot read " + name + " file " + path + ": " + std::strerror(error_number));
}

std::vector<std::uint8_t> read_boot_file(const BootFileKind& kind, const std::string& path) {
  const std::string name(kind.name);
  if (path.empty()) {
    throw NestboxError(ErrorCode::InvalidConfig, "no " + name + " file given");
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    throw_unreadable(kind, path, errno);
  }
  struct stat status{};
  if (::fstat(fd.get(), &status) != 0) {
    throw_unreadable(kind, path, errno);
  }
  if (S_ISDIR(status.st_mode)) {
    throw NestboxError(ErrorCode::KernelUnreadable,
                       path + " is a directory, not " + (kind.name == "initrd" ? "an " : "a ") +
                           name + " file");
  }
  if (!S_ISREG(status.st_mode)) {
    throw NestboxError(ErrorCode::KernelUnreadable, path + " is not a regular file");
  }
  if (status.st_size == 0) {
    throw NestboxError(ErrorCode::NotAKernel, path + " is empty, not " +
                                                  (kind.name == "initrd" ? "an " : "a ") + name);
  }
  if (static_cast<std::uint64_t>(status.st_size) > kind.max_size) {
    throw NestboxError(ErrorCode::KernelTooLarge,
                       path + " is " + std::to_string(status.st_size >> 20) + " MiB; " + name +
                           " images over " + std::to_string(kind.max_size >> 20) +
                           " MiB are not accepted");
  }

  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(status.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t count = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_unreadable(kind, path, errno);
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

}  // namespace

std::vector<std::uint8_t> read_kernel_file(const std::string& path) {
  return read_boot_file(kKernel, path);
}

std::vector<std::uint8_t> read_initrd_file(const std::string& path) {
  return read_boot_file(kInitrd, path);
}

}  // namespace nestbox::x86
