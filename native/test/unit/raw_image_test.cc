#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "block/raw_image.h"

using namespace nestbox::block;

namespace {

struct RawTempDir {
  std::string path;
  RawTempDir() {
    char pattern[] = "/tmp/nestbox-raw-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~RawTempDir() { std::filesystem::remove_all(path); }
};

template <typename Action>
DiskImageErrorCode error_code_of(Action&& action) {
  try {
    action();
  } catch (const DiskImageError& error) {
    return error.code();
  }
  FAIL("expected a DiskImageError");
  return DiskImageErrorCode::IoError;
}

}  // namespace

TEST_CASE("raw image: create, write, read back, reopen") {
  RawTempDir dir;
  const std::string path = dir.path + "/disk.raw";
  RawImage::create(path, 1 << 20);
  CHECK(error_code_of([&] { RawImage::create(path, 1 << 20); }) == DiskImageErrorCode::AlreadyExists);

  auto image = open_disk_image(path);
  CHECK(image->format() == ImageFormat::Raw);
  CHECK(image->virtual_size() == (1u << 20));
  CHECK(image->backing() == nullptr);
  std::vector<std::uint8_t> data(3000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  image->write(4095, data);
  image->flush();
  image->close();

  auto reopened = open_disk_image(path, {.read_only = true});
  std::vector<std::uint8_t> back(3000);
  reopened->read(4095, back);
  CHECK(back == data);
  std::vector<std::uint8_t> zeroes(16, 0xff);
  reopened->read(0, zeroes);
  CHECK(zeroes == std::vector<std::uint8_t>(16, 0));
  CHECK(error_code_of([&] { reopened->write(0, data); }) == DiskImageErrorCode::ReadOnly);
}

TEST_CASE("raw image: range checks, discard and write_zeroes read as zero") {
  RawTempDir dir;
  const std::string path = dir.path + "/disk.raw";
  RawImage::create(path, 64 * 1024);
  auto image = open_disk_image(path);
  std::vector<std::uint8_t> data(8192, 0xab);
  image->write(0, data);
  image->discard(0, 4096);
  image->write_zeroes(4096, 100);
  std::vector<std::uint8_t> back(8192);
  image->read(0, back);
  for (std::size_t i = 0; i < 4196; ++i) REQUIRE(back[i] == 0);
  for (std::size_t i = 4196; i < 8192; ++i) REQUIRE(back[i] == 0xab);
  std::vector<std::uint8_t> one(2);
  CHECK(error_code_of([&] { image->read(64 * 1024 - 1, one); }) == DiskImageErrorCode::OutOfRange);
  CHECK(error_code_of([&] { image->write(~0ull, one); }) == DiskImageErrorCode::OutOfRange);
}

TEST_CASE("raw image: a missing file is NotFound and names the path") {
  try {
    open_disk_image("/nonexistent/nestbox.img");
    FAIL("expected an error");
  } catch (const DiskImageError& error) {
    CHECK(error.code() == DiskImageErrorCode::NotFound);
    CHECK(std::string(error.what()).find("/nonexistent/nestbox.img") != std::string::npos);
  }
}
