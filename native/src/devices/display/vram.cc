#include "devices/display/vram.h"

#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/nestbox_error.h"

namespace nestbox::display {

namespace {

[[noreturn]] void throw_host_failure(const char* what, int error_number) {
  throw NestboxError(ErrorCode::GuestMemory,
                     std::string("cannot allocate video memory: ") + what + ": " +
                         std::strerror(error_number));
}

}  // namespace

Vram::Vram(std::uint64_t size) : size_(size) {
  if (!std::has_single_bit(size) || size < kMinVramSize || size > kMaxVramSize) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "video memory must be a power of two between 1 and 256 MiB, not " +
                           std::to_string(size) + " bytes");
  }
  memfd_ = UniqueFd(::memfd_create("nestbox-vram", MFD_CLOEXEC));
  if (!memfd_.valid()) throw_host_failure("memfd_create", errno);
  if (::ftruncate(memfd_.get(), static_cast<off_t>(size)) != 0) {
    throw_host_failure("ftruncate", errno);
  }
  void* mapping = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                         memfd_.get(), 0);
  if (mapping == MAP_FAILED) throw_host_failure("mmap", errno);
  // What the guest draws is the user's screen: keep it out of VMM core dumps,
  // as guest RAM is.
  ::madvise(mapping, size, MADV_DONTDUMP);
  mapping_ = static_cast<std::uint8_t*>(mapping);
}

Vram::~Vram() {
  if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

}  // namespace nestbox::display
