// libFuzzer target: arbitrary bytes as a qcow2 image file. Opens it read-only
// (header, extensions, L1 and refcount tables), reads a few ranges (L2 lookups,
// compressed clusters, zero clusters) and runs check(). Backing files are never
// opened, so no input can make the fuzzer touch other files. Any DiskImageError
// is an expected outcome; crashes, sanitizer reports and other exceptions are not.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "block/qcow2_image.h"

using namespace nestbox::block;

namespace {

int image_fd() {
  static const int fd = ::memfd_create("qcow2-fuzz", MFD_CLOEXEC);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = image_fd();
  if (fd < 0 || ::ftruncate(fd, 0) != 0) return 0;
  if (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    auto image = Qcow2Image::open(path, {.read_only = true}, {});
    const std::uint64_t virtual_size = image->virtual_size();
    std::vector<std::uint8_t> buffer(8192);
    // A few ranges derived from the input: the start, the end, and one chosen by its bytes.
    const std::uint64_t pick = size >= 8 ? (std::uint64_t{data[size - 1]} << 24 | std::uint64_t{data[size - 2]} << 16 |
                                            std::uint64_t{data[size - 3]} << 8 | data[size - 4]) * 4093
                                         : 0;
    const std::uint64_t offsets[] = {0, virtual_size > buffer.size() ? virtual_size - buffer.size() : 0,
                                     virtual_size > 0 ? pick % virtual_size : 0};
    for (const std::uint64_t offset : offsets) {
      const std::size_t length = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), virtual_size - offset));
      try {
        image->read(offset, std::span<std::uint8_t>(buffer.data(), length));
      } catch (const DiskImageError&) {
      }
    }
    const Qcow2CheckResult result = image->check();
    (void)result.exit_status();
    image->close();
  } catch (const DiskImageError&) {
  }
  return 0;
}
