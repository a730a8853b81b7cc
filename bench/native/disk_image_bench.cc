// Times our block layer on one image, with the offset sequence `qemu-img bench`
// uses (start at 0, advance by STEP, wrap at the virtual size), so both tools do
// the same I/O on the same file. Prints "<bytes> <seconds>".
//   disk_image_bench FILE read|write BUFFER_SIZE STEP COUNT
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "block/disk_image.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s FILE read|write BUFFER_SIZE STEP COUNT\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const bool write = std::string(argv[2]) == "write";
  const std::uint64_t buffer_size = std::strtoull(argv[3], nullptr, 0);
  const std::uint64_t step = std::strtoull(argv[4], nullptr, 0);
  const std::uint64_t count = std::strtoull(argv[5], nullptr, 0);
  try {
    auto image = nestbox::block::open_disk_image(path, {.read_only = !write});
    const std::uint64_t size = image->virtual_size();
    std::vector<std::uint8_t> buffer(buffer_size, 0xa5);
    std::uint64_t offset = 0;
    const auto began = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < count; ++i) {
      if (write) {
        image->write(offset, buffer);
      } else {
        image->read(offset, buffer);
      }
      offset = (offset + step) % size;
      if (offset + buffer_size > size) offset = 0;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    image->close();
    std::printf("%llu %.6f\n", static_cast<unsigned long long>(count * buffer_size), seconds);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "disk_image_bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
