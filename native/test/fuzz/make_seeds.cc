// Writes the seed corpus: small valid images made by our own create/write code
// (plain, 512-byte clusters, an overlay, with zero clusters), into argv[1].
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "block/qcow2_image.h"

using namespace nestbox::block;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::filesystem::create_directories(dir);
  auto make = [&](const std::string& name, std::uint64_t size, std::uint64_t cluster, const std::string& backing) {
    const std::string path = dir + "/" + name;
    std::filesystem::remove(path);
    Qcow2CreateOptions options;
    options.cluster_size = cluster;
    options.backing_file = backing;
    Qcow2Image::create(path, size, options);
    auto image = open_disk_image(path);
    std::vector<std::uint8_t> data(3000, 0xab);
    image->write(100, data);
    image->write(size / 2, data);
    image->write_zeroes(size - 4096, 4096);
    image->close();
  };
  make("plain.qcow2", 1 << 20, 4096, "");
  make("tiny-clusters.qcow2", 256 << 10, 512, "");
  make("overlay.qcow2", 1 << 20, 4096, "plain.qcow2");
  return 0;
}
