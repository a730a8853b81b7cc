#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "block/qcow2_format.h"
#include "block/qcow2_image.h"
#include "block/raw_image.h"

using namespace nestbox::block;

namespace {

struct Qcow2TempDir {
  std::string path;
  Qcow2TempDir() {
    char pattern[] = "/tmp/nestbox-qcow2-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~Qcow2TempDir() { std::filesystem::remove_all(path); }
};

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void patch(const std::string& path, std::uint64_t offset, const std::vector<std::uint8_t>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

std::vector<std::uint8_t> be64(std::uint64_t value) {
  std::vector<std::uint8_t> out(8);
  qcow2::store_be64(out.data(), value);
  return out;
}

template <typename Action>
DiskImageError caught(Action&& action) {
  try {
    action();
  } catch (const DiskImageError& error) {
    return error;
  }
  FAIL("expected a DiskImageError");
  return DiskImageError(DiskImageErrorCode::IoError, "");
}

Qcow2CreateOptions backed_by(const std::string& backing) {
  Qcow2CreateOptions options;
  options.backing_file = backing;
  return options;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Qcow2CheckResult check_file(const std::string& path) {
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  return image->check();
}

// Random writes, write_zeroes and discards applied both to the image and to a
// reference buffer; returns the reference.
std::vector<std::uint8_t> exercise(DiskImage& image, std::uint64_t size, std::uint32_t seed, int operations,
                                   std::vector<std::uint8_t> expected, bool discard_zeroes) {
  std::mt19937_64 random(seed);
  for (int op = 0; op < operations; ++op) {
    const std::uint64_t offset = random() % size;
    const std::uint64_t length = 1 + random() % std::min<std::uint64_t>(size - offset, 200000);
    const int kind = static_cast<int>(random() % 10);
    if (kind < 7) {
      std::vector<std::uint8_t> data(length);
      for (auto& byte : data) byte = static_cast<std::uint8_t>(random());
      image.write(offset, data);
      std::copy(data.begin(), data.end(), expected.begin() + static_cast<std::ptrdiff_t>(offset));
    } else if (kind < 9) {
      image.write_zeroes(offset, length);
      std::fill_n(expected.begin() + static_cast<std::ptrdiff_t>(offset), length, 0);
    } else if (discard_zeroes) {
      // Without a backing file, whole discarded clusters read as zero; partial ones keep their data.
      image.discard(offset, length);
      const std::uint64_t cs = 65536;
      const std::uint64_t first = (offset + cs - 1) / cs * cs;
      const std::uint64_t end = offset + length == size ? size : (offset + length) / cs * cs;
      if (first < end) std::fill(expected.begin() + static_cast<std::ptrdiff_t>(first), expected.begin() + static_cast<std::ptrdiff_t>(end), 0);
    }
  }
  return expected;
}

}  // namespace

TEST_CASE("qcow2: a new image has QEMU's layout, reads as zero and checks clean") {
  Qcow2TempDir dir;
  const std::string path = dir.path + "/new.qcow2";
  Qcow2Image::create(path, 10ull << 30, {});
  CHECK(std::filesystem::file_size(path) == 4 * 65536);
  CHECK(caught([&] { Qcow2Image::create(path, 1 << 20, {}); }).code() == DiskImageErrorCode::AlreadyExists);

  auto image = open_disk_image(path);
  CHECK(image->format() == ImageFormat::Qcow2);
  CHECK(image->virtual_size() == (10ull << 30));
  std::vector<std::uint8_t> buffer(100000, 0xff);
  image->read((10ull << 30) - buffer.size(), buffer);
  CHECK(buffer == std::vector<std::uint8_t>(buffer.size(), 0));
  image->close();
  const Qcow2CheckResult result = check_file(path);
  CHECK(result.exit_status() == 0);
  CHECK(result.allocated_clusters == 0);
}

TEST_CASE("qcow2: random writes, zeroes and discards survive a reopen and leave a clean image") {
  Qcow2TempDir dir;
  const std::string path = dir.path + "/rw.qcow2";
  const std::uint64_t size = 8 << 20;
  Qcow2Image::create(path, size, {});
  std::vector<std::uint8_t> expected(size, 0);
  {
    auto image = open_disk_image(path);
    expected = exercise(*image, size, 1, 300, expected, true);
    image->close();
  }
  CHECK(check_file(path).exit_status() == 0);
  auto image = open_disk_image(path, {.read_only = true});
  std::vector<std::uint8_t> back(size);
  image->read(0, back);
  CHECK(back == expected);
  CHECK_FALSE(static_cast<Qcow2Image&>(*image).dirty());
}

TEST_CASE("qcow2: small clusters grow the refcount table and stay consistent") {
  Qcow2TempDir dir;
  const std::string path = dir.path + "/small.qcow2";
  const std::uint64_t size = 24 << 20;
  Qcow2Image::create(path, size, [] { Qcow2CreateOptions o; o.cluster_size = 512; return o; }());
  std::vector<std::uint8_t> expected(size, 0);
  {
    auto image = open_disk_image(path);
    std::vector<std::uint8_t> data(size);
    std::mt19937 random(7);
    for (auto& byte : data) byte = static_cast<std::uint8_t>(random());
    image->write(0, data);
    expected = data;
    image->close();
  }
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  CHECK(image->header().refcount_table_clusters > 1);
  const Qcow2CheckResult result = image->check();
  CHECK(result.exit_status() == 0);
  for (std::size_t i = 0; i < std::min<std::size_t>(result.messages.size(), 5); ++i) MESSAGE(result.messages[i]);
  std::vector<std::uint8_t> back(size);
  image->read(0, back);
  CHECK(back == expected);
}

TEST_CASE("qcow2: overlays copy on write, read through a 3-deep chain, and zero over the backing file") {
  Qcow2TempDir dir;
  const std::uint64_t size = 4 << 20;
  RawImage::create(dir.path + "/base.raw", size);
  std::vector<std::uint8_t> expected(size, 0);
  {
    auto base = open_disk_image(dir.path + "/base.raw");
    std::vector<std::uint8_t> data(size, 0x11);
    base->write(0, data);
    expected = data;
  }
  Qcow2Image::create(dir.path + "/mid.qcow2", 0, backed_by("base.raw"));
  {
    auto mid = open_disk_image(dir.path + "/mid.qcow2");
    CHECK(mid->virtual_size() == size);
    REQUIRE(mid->backing() != nullptr);
    CHECK(mid->backing()->format() == ImageFormat::Raw);
    std::vector<std::uint8_t> data(1000, 0x22);
    mid->write(70000, data);
    std::fill_n(expected.begin() + 70000, 1000, 0x22);
  }
  Qcow2Image::create(dir.path + "/top.qcow2", 0, backed_by("mid.qcow2"));
  {
    auto top = open_disk_image(dir.path + "/top.qcow2");
    REQUIRE(top->backing() != nullptr);
    REQUIRE(top->backing()->backing() != nullptr);
    std::vector<std::uint8_t> data(10, 0x33);
    top->write(69995, data);
    std::fill_n(expected.begin() + 69995, 10, 0x33);
    top->write_zeroes(131072, 65536);
    std::fill_n(expected.begin() + 131072, 65536, 0);
    top->discard(196608, 65536);  // over a backing file a discard reads as zero
    std::fill_n(expected.begin() + 196608, 65536, 0);
    std::vector<std::uint8_t> back(size);
    top->read(0, back);
    CHECK(back == expected);
    top->close();
  }
  CHECK(check_file(dir.path + "/top.qcow2").exit_status() == 0);
  CHECK(check_file(dir.path + "/mid.qcow2").exit_status() == 0);
}

TEST_CASE("qcow2: backing chain errors name the file") {
  Qcow2TempDir dir;
  Qcow2Image::create(dir.path + "/base.qcow2", 1 << 20, {});
  Qcow2Image::create(dir.path + "/top.qcow2", 0, backed_by("base.qcow2"));
  std::filesystem::remove(dir.path + "/base.qcow2");
  const DiskImageError missing = caught([&] { open_disk_image(dir.path + "/top.qcow2"); });
  CHECK(missing.code() == DiskImageErrorCode::NotFound);
  CHECK(contains(missing.what(), "base.qcow2"));

  // A loop: make an image name itself as its backing file.
  const std::string loop = dir.path + "/loop.qcow2";
  Qcow2Image::create(loop, 1 << 20, {});
  const std::string name = "loop.qcow2";
  patch(loop, 4096, std::vector<std::uint8_t>(name.begin(), name.end()));
  patch(loop, qcow2::kOffBackingFileOffset, be64(4096));
  std::vector<std::uint8_t> size_field(4);
  qcow2::store_be32(size_field.data(), static_cast<std::uint32_t>(name.size()));
  patch(loop, qcow2::kOffBackingFileSize, size_field);
  const DiskImageError looped = caught([&] { open_disk_image(loop, {.read_only = true}); });
  CHECK(looped.code() == DiskImageErrorCode::BackingChain);
  CHECK(contains(looped.what(), "loop"));
}

TEST_CASE("qcow2: refused images are left byte-for-byte unchanged") {
  Qcow2TempDir dir;
  const std::string path = dir.path + "/bad.qcow2";
  Qcow2Image::create(path, 1 << 20, {});

  SUBCASE("unknown incompatible feature bit") {
    patch(path, qcow2::kOffIncompatibleFeatures, be64(1ull << 17));
    const auto before = file_bytes(path);
    const DiskImageError error = caught([&] { open_disk_image(path); });
    CHECK(error.code() == DiskImageErrorCode::Unsupported);
    CHECK(contains(error.what(), "bit 17"));
    CHECK(file_bytes(path) == before);
  }
  SUBCASE("truncated") {
    std::filesystem::resize_file(path, 70000);
    const auto before = file_bytes(path);
    const DiskImageError error = caught([&] { open_disk_image(path); });
    CHECK(error.code() == DiskImageErrorCode::Corrupt);
    CHECK(file_bytes(path) == before);
  }
  SUBCASE("bad cluster bits") {
    patch(path, qcow2::kOffClusterBits, {0, 0, 0, 30});
    CHECK(caught([&] { open_disk_image(path); }).code() == DiskImageErrorCode::Corrupt);
  }
  SUBCASE("extended L2") {
    patch(path, qcow2::kOffIncompatibleFeatures, be64(qcow2::kIncompatExtendedL2));
    const DiskImageError error = caught([&] { open_disk_image(path, {.read_only = true}); });
    CHECK(error.code() == DiskImageErrorCode::Unsupported);
    CHECK(contains(error.what(), "extended L2"));
  }
  SUBCASE("corrupt bit refuses writing but reads") {
    patch(path, qcow2::kOffIncompatibleFeatures, be64(qcow2::kIncompatCorrupt));
    CHECK(caught([&] { open_disk_image(path); }).code() == DiskImageErrorCode::Corrupt);
    CHECK(open_disk_image(path, {.read_only = true})->virtual_size() == (1u << 20));
  }
}

TEST_CASE("qcow2: check finds leaks and corruption; a dirty image with leaks is repaired on open") {
  Qcow2TempDir dir;
  const std::string path = dir.path + "/check.qcow2";
  Qcow2Image::create(path, 1 << 20, {});
  {
    auto image = open_disk_image(path);
    std::vector<std::uint8_t> data(65536, 0x5a);
    image->write(0, data);
    image->close();
  }
  // Layout: header 0, refcount table 1, refcount block 2, L1 3, L2 4, data 5.
  const std::uint64_t block = 2 * 65536;
  std::vector<std::uint8_t> one = {0, 1};

  SUBCASE("leak") {
    std::filesystem::resize_file(path, 7 * 65536);
    patch(path, block + 2 * 6, one);
    const Qcow2CheckResult leaked = check_file(path);
    CHECK(leaked.leaks == 1);
    CHECK(leaked.exit_status() == 3);
    // Simulate an unclean shutdown: the dirty bit makes the next writable open repair leaks.
    patch(path, qcow2::kOffIncompatibleFeatures, be64(qcow2::kIncompatDirty));
    open_disk_image(path)->close();
    CHECK(check_file(path).exit_status() == 0);
  }
  SUBCASE("corruption") {
    patch(path, block + 2 * 5, {0, 0});
    const Qcow2CheckResult broken = check_file(path);
    CHECK(broken.corruptions == 2);  // refcount 0 < 1 reference, and the COPIED flag disagrees
    CHECK(broken.exit_status() == 2);
    patch(path, qcow2::kOffIncompatibleFeatures, be64(qcow2::kIncompatDirty));
    const auto before = file_bytes(path);
    CHECK(caught([&] { open_disk_image(path); }).code() == DiskImageErrorCode::Corrupt);
    CHECK(file_bytes(path) == before);
  }
}

TEST_CASE("qcow2: an image copied while open is dirty, and a clean close clears the bit") {
  Qcow2TempDir dir;
  const std::string path = dir.path + "/dirty.qcow2";
  Qcow2Image::create(path, 1 << 20, {});
  auto image = open_disk_image(path);
  std::vector<std::uint8_t> data(5000, 1);
  image->write(100, data);
  image->flush();
  std::filesystem::copy_file(path, dir.path + "/copy.qcow2");
  image->close();
  CHECK(Qcow2Image::open(dir.path + "/copy.qcow2", {.read_only = true}, {})->dirty());
  CHECK_FALSE(Qcow2Image::open(path, {.read_only = true}, {})->dirty());
  auto repaired = open_disk_image(dir.path + "/copy.qcow2");
  std::vector<std::uint8_t> back(5000);
  repaired->read(100, back);
  CHECK(back == data);
}
