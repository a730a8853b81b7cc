#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "common/nestbox_error.h"
#include "common/unique_fd.h"
#include "memory/guest_memory.h"
#include "snapshot/ram_file.h"
#include "snapshot_test_support.h"
#include "test_helpers.h"

using nestbox::ErrorCode;
using nestbox::GuestMemory;
using nestbox::GuestRamExtent;
using nestbox::GuestRamRegion;
using nestbox::UniqueFd;
using namespace nestbox::snapshot;
using nestbox::test::contains;
using nestbox::test::expect_error;
using nestbox::test::SnapshotTempDir;

namespace {

constexpr std::uint64_t kPage = 4096;

std::vector<std::uint8_t> read_file_at(const std::string& path, std::uint64_t offset,
                                       std::size_t length) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd.valid());
  std::vector<std::uint8_t> bytes(length);
  REQUIRE(::pread(fd.get(), bytes.data(), length, static_cast<off_t>(offset)) ==
          static_cast<ssize_t>(length));
  return bytes;
}

std::size_t entries_in(const std::string& directory) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(directory),
                                                std::filesystem::directory_iterator()));
}

// Two regions around a hole, like RAM split by the PCI hole.
const std::vector<GuestRamRegion> kTwoRegions{{0, 64 * kPage}, {0x100000, 16 * kPage}};

}  // namespace

TEST_CASE("ram file: the zero-page test finds a single non-zero byte anywhere") {
  std::vector<std::uint8_t> page(kPage, 0);
  CHECK(is_zero_page(page.data()));
  for (std::size_t at : {std::size_t{0}, std::size_t{63}, std::size_t{64}, std::size_t{2049},
                         std::size_t{kPage - 1}}) {
    page[at] = 0x80;
    CHECK_FALSE(is_zero_page(page.data()));
    page[at] = 0;
  }
}

TEST_CASE("ram file: populated extents cover what was written and skip untouched RAM") {
  const GuestMemory memory = GuestMemory::allocate(kTwoRegions);
  CHECK(memory.populated_extents().empty());
  memory.write_object(5 * kPage + 8, std::uint64_t{1});
  memory.write_object(0x100000 + 3 * kPage, std::uint32_t{2});
  const std::vector<GuestRamExtent> extents = memory.populated_extents();
  REQUIRE(extents.size() >= 2);
  bool saw_first = false;
  bool saw_second = false;
  for (const GuestRamExtent& extent : extents) {
    if (extent.region == 0 && extent.offset <= 5 * kPage && extent.offset + extent.length > 5 * kPage)
      saw_first = true;
    if (extent.region == 1 && extent.offset <= 3 * kPage && extent.offset + extent.length > 3 * kPage)
      saw_second = true;
    CHECK(extent.offset + extent.length <= kTwoRegions[extent.region].size);
  }
  CHECK(saw_first);
  CHECK(saw_second);
}

TEST_CASE("ram file: a 256 MiB region with a few non-zero pages writes only those pages") {
  SnapshotTempDir dir;
  const std::string path = dir.file("ram");
  const GuestMemory memory = GuestMemory::allocate({{0, 256ull << 20}});
  const std::array<std::uint64_t, 4> pages{0, 1, 4096, 65535};  // page numbers
  for (const std::uint64_t page : pages) {
    memory.write_object(page * kPage + 100, page + 1);
  }
  // Pages the guest wrote zeros to are populated in the memfd but must not be written.
  memory.write_object(12345 * kPage, std::uint64_t{0});

  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
  const std::uint64_t written =
      write_ram_file(memory, path, [&](std::uint64_t done, std::uint64_t total) {
        calls.emplace_back(done, total);
      });
  CHECK(written == pages.size() * kPage);

  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK(static_cast<std::uint64_t>(info.st_size) == 256ull << 20);
  CHECK((info.st_mode & 0777) == 0600);
  // Allocated blocks: the four pages (a file system may round up a little).
  CAPTURE(info.st_blocks);
  CHECK(static_cast<std::uint64_t>(info.st_blocks) * 512 >= pages.size() * kPage);
  CHECK(static_cast<std::uint64_t>(info.st_blocks) * 512 <= 256 * 1024);

  // SEEK_DATA finds the written pages and holes between them.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd.valid());
  CHECK(::lseek(fd.get(), 2 * kPage, SEEK_DATA) == static_cast<off_t>(4096 * kPage));
  CHECK(::lseek(fd.get(), 0, SEEK_HOLE) == static_cast<off_t>(2 * kPage));

  const std::vector<std::uint8_t> back = read_file_at(path, 4096 * kPage + 100, 8);
  CHECK(back[0] == 4097 % 256);
  CHECK(back[1] == 4097 / 256);

  REQUIRE(!calls.empty());
  CHECK(calls.front().first == 0);
  CHECK(calls.back().first == 256ull << 20);
  CHECK(calls.back().second == 256ull << 20);
  for (std::size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first >= calls[i - 1].first);
  CHECK(entries_in(dir.path) == 1);  // no temporary file left behind
}

TEST_CASE("ram file: round trip through map_file_private; the file never changes") {
  SnapshotTempDir dir;
  const std::string path = dir.file("ram");
  const GuestMemory original = GuestMemory::allocate(kTwoRegions);
  for (std::uint64_t i = 0; i < 64; i += 3) original.write_object(i * kPage + i, i * 0x0101010101ull);
  original.write_object(0x100000 + 15 * kPage + kPage - 8, std::uint64_t{0xabcdef});
  write_ram_file(original, path);

  const GuestMemory restored = GuestMemory::map_file_private(kTwoRegions, path);
  CHECK(restored.is_file_backed());
  CHECK(restored.total_size() == original.total_size());
  for (std::size_t r = 0; r < kTwoRegions.size(); ++r) {
    const GuestRamRegion& region = kTwoRegions[r];
    CHECK(std::equal(original.span(region.guest_address, region.size).begin(),
                     original.span(region.guest_address, region.size).end(),
                     restored.span(region.guest_address, region.size).begin()));
  }

  // Guest writes stay private: the file keeps the snapshot's bytes.
  restored.write_object(3 * kPage + 3, std::uint64_t{0x1111});
  restored.write_object(0x100000, std::uint64_t{0x2222});
  CHECK(restored.read_object<std::uint64_t>(3 * kPage + 3) == 0x1111);
  const std::vector<std::uint8_t> file_bytes = read_file_at(path, 3 * kPage + 3, 8);
  std::uint64_t file_value = 0;
  std::memcpy(&file_value, file_bytes.data(), 8);
  CHECK(file_value == 3 * 0x0101010101ull);
  // Region 1 starts in the file right after region 0.
  CHECK(read_file_at(path, 64 * kPage, 8) == std::vector<std::uint8_t>(8, 0));

  // A second VM reverting to the same file sees the snapshot, not the first VM's writes.
  const GuestMemory again = GuestMemory::map_file_private(kTwoRegions, path);
  CHECK(again.read_object<std::uint64_t>(3 * kPage + 3) == 3 * 0x0101010101ull);

  // Unlinking the file while mapped is fine: the mapping holds the inode.
  REQUIRE(::unlink(path.c_str()) == 0);
  CHECK(again.read_object<std::uint64_t>(0x100000 + 15 * kPage + kPage - 8) == 0xabcdef);
}

TEST_CASE("ram file: rewriting a mapped file replaces it without changing the mapping") {
  SnapshotTempDir dir;
  const std::string path = dir.file("ram");
  const GuestMemory first = GuestMemory::allocate(kTwoRegions);
  first.write_object(10 * kPage, std::uint64_t{1});
  write_ram_file(first, path);
  const GuestMemory mapped = GuestMemory::map_file_private(kTwoRegions, path);

  first.write_object(10 * kPage, std::uint64_t{2});
  write_ram_file(first, path);  // a new snapshot under the same name
  CHECK(mapped.read_object<std::uint64_t>(10 * kPage) == 1);
  CHECK(GuestMemory::map_file_private(kTwoRegions, path).read_object<std::uint64_t>(10 * kPage) == 2);
}

TEST_CASE("ram file: discard_all turns file-backed RAM into zeroed memfd RAM at the same address") {
  SnapshotTempDir dir;
  const std::string path = dir.file("ram");
  const GuestMemory original = GuestMemory::allocate(kTwoRegions);
  original.write_object(kPage, std::uint64_t{42});
  write_ram_file(original, path);

  const GuestMemory restored = GuestMemory::map_file_private(kTwoRegions, path);
  std::uint8_t* const host = restored.host_address_of_region(0);
  CHECK(restored.read_object<std::uint64_t>(kPage) == 42);
  restored.discard_all();
  CHECK_FALSE(restored.is_file_backed());
  CHECK(restored.host_address_of_region(0) == host);
  CHECK(restored.read_object<std::uint64_t>(kPage) == 0);
  restored.write_object(kPage, std::uint64_t{7});
  CHECK(restored.read_object<std::uint64_t>(kPage) == 7);
  CHECK(restored.populated_extents().size() == 1);
  restored.discard_all();
  CHECK(restored.read_object<std::uint64_t>(kPage) == 0);
  // The file was never touched.
  CHECK(read_file_at(path, kPage, 1)[0] == 42);
}

TEST_CASE("ram file: a file of the wrong size or a missing file is refused") {
  SnapshotTempDir dir;
  const std::string path = dir.file("ram");
  write_ram_file(GuestMemory::allocate({{0, 16 * kPage}}), path);
  const auto wrong = expect_error([&] { (void)GuestMemory::map_file_private(kTwoRegions, path); });
  CHECK(wrong.code == ErrorCode::GuestMemory);
  CHECK(contains(wrong.message, "is 65536 bytes, but the snapshot's RAM is 327680 bytes"));
  const auto missing =
      expect_error([&] { (void)GuestMemory::map_file_private(kTwoRegions, dir.file("none")); });
  CHECK(contains(missing.message, "cannot open the snapshot's RAM file"));

  RamLayout layout;
  layout.regions = kTwoRegions;
  layout.file_size = 80 * kPage;
  const auto mismatch = nestbox::test::expect_snapshot_error([&] { (void)map_ram_file(layout, path); });
  CHECK(mismatch.problem == SnapshotProblem::Mismatch);
  layout.regions = {{0, 16 * kPage}};
  layout.file_size = 16 * kPage;
  CHECK(map_ram_file(layout, path).total_size() == 16 * kPage);
}

TEST_CASE("ram file: a progress callback that throws cancels and leaves nothing behind") {
  SnapshotTempDir dir;
  const std::string path = dir.file("ram");
  const GuestMemory memory = GuestMemory::allocate({{0, 128ull << 20}});
  for (std::uint64_t mib = 0; mib < 128; mib += 8) memory.write_object(mib << 20, mib + 1);
  int calls = 0;
  CHECK_THROWS_AS(write_ram_file(memory, path,
                                 [&](std::uint64_t done, std::uint64_t) {
                                   if (++calls == 2 && done > 0) throw std::runtime_error("cancel");
                                 }),
                  std::runtime_error);
  CHECK(entries_in(dir.path) == 0);

  // And an existing file of that name is left as it was.
  write_ram_file(GuestMemory::allocate({{0, kPage}}), path);
  calls = 0;
  CHECK_THROWS(write_ram_file(memory, path, [&](std::uint64_t done, std::uint64_t) {
    if (++calls == 2 && done > 0) throw std::runtime_error("cancel");
  }));
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK(info.st_size == static_cast<off_t>(kPage));
  CHECK(entries_in(dir.path) == 1);
}

TEST_CASE("ram file: an unwritable destination is an I/O error naming the file") {
  const auto error = nestbox::test::expect_snapshot_error([] {
    (void)write_ram_file(GuestMemory::allocate({{0, kPage}}), "/nonexistent-dir/ram");
  });
  CHECK(error.problem == SnapshotProblem::Io);
  CHECK(contains(error.message, "/nonexistent-dir/ram"));
}
