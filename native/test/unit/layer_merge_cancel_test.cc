// Cancelling a layer merge through LayerMergeOptions::stop, and the copy-only merge: the
// child stays on the layer, reads the same, checks clean (ours and, where installed,
// `qemu-img check`), the layer is untouched, and a later full merge completes.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "block/layer_merge.h"
#include "block/qcow2_image.h"

using namespace nestbox::block;

namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
// Several 4 MiB pieces, so a stop lands between two of them.
constexpr std::uint64_t kDisk = 24 * MiB;

struct CancelTempDir {
  std::string path;
  CancelTempDir() {
    char name[] = "/tmp/nestbox-merge-cancel-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~CancelTempDir() { std::filesystem::remove_all(path); }
  CancelTempDir(const CancelTempDir&) = delete;
  CancelTempDir& operator=(const CancelTempDir&) = delete;
};

std::vector<std::uint8_t> random_bytes(std::uint64_t length, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<std::uint8_t> bytes(length);
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(random() | 1);
  return bytes;
}

std::vector<std::uint8_t> bytes_of_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::uint8_t> guest_view(const std::string& path) {
  auto image = open_disk_image(path, {.read_only = true});
  std::vector<std::uint8_t> bytes(image->virtual_size());
  image->read(0, bytes);
  image->close();
  return bytes;
}

std::string backing_of(const std::string& path) {
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  const std::string name = image->header().backing_file;
  image->close();
  return name;
}

Qcow2CheckResult our_check(const std::string& path) {
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  Qcow2CheckResult result = image->check();
  image->close();
  return result;
}

bool child_allocates(const std::string& path, std::uint64_t offset) {
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  const bool allocated = image->allocation_status(offset, 64 * KiB).allocated;
  image->close();
  return allocated;
}

// `qemu-img check` exit status (0 clean, 2 corrupt, 3 leaks), or -1 without qemu-img.
int qemu_check(const std::string& path) {
  if (std::system("command -v qemu-img >/dev/null 2>&1") != 0) return -1;
  const int status = std::system(("qemu-img check -q '" + path + "' >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

void expect_clean(const std::string& path) {
  const Qcow2CheckResult result = our_check(path);
  CHECK(result.corruptions == 0);
  CHECK(result.leaks == 0);
  const int qemu = qemu_check(path);
  if (qemu >= 0) CHECK(qemu == 0);
}

// base ← layer ← child, relative names: the layer holds data over the whole disk (so the
// merge has every piece to copy), zero ranges and holes; the child has writes of its own.
struct CancelChain {
  std::string base, layer, child;
};

CancelChain build(const std::string& dir) {
  CancelChain chain{dir + "/base.qcow2", dir + "/layer.qcow2", dir + "/child.qcow2"};
  Qcow2Image::create(chain.base, kDisk, {});
  {
    auto base = open_disk_image(chain.base);
    base->write(0, random_bytes(kDisk, 1));
    base->close();
  }
  Qcow2CreateOptions layer_options;
  layer_options.backing_file = "base.qcow2";
  Qcow2Image::create(chain.layer, kDisk, layer_options);
  {
    auto layer = open_disk_image(chain.layer);
    for (std::uint64_t at = 0; at < kDisk; at += 2 * MiB) layer->write(at + 4096 + 7, random_bytes(MiB, 2 + at / MiB));
    layer->write_zeroes(9 * MiB, 256 * KiB);
    layer->write_zeroes(kDisk - 512 * KiB, 512 * KiB);
    layer->close();
  }
  Qcow2CreateOptions child_options;
  child_options.backing_file = "layer.qcow2";
  Qcow2Image::create(chain.child, kDisk, child_options);
  auto child = open_disk_image(chain.child);
  child->write(100 * KiB, random_bytes(10 * KiB, 50));
  child->write(13 * MiB + 3, random_bytes(200 * KiB, 51));
  child->write_zeroes(20 * MiB, 64 * KiB);
  child->close();
  return chain;
}

}  // namespace

TEST_CASE("layer merge cancel: a stop between pieces leaves a consistent child a later merge completes") {
  CancelTempDir dir;
  const CancelChain chain = build(dir.path);
  const std::vector<std::uint8_t> before = guest_view(chain.child);
  const std::vector<std::uint8_t> layer_file = bytes_of_file(chain.layer);
  REQUIRE_FALSE(child_allocates(chain.child, 4096));

  std::stop_source stop;
  std::vector<std::uint64_t> reports;
  LayerMergeOptions options;
  options.stop = stop.get_token();
  options.progress = [&](std::uint64_t done, std::uint64_t total) {
    CHECK(total == kDisk);
    reports.push_back(done);
    if (done > 0) stop.request_stop();  // taken before the next range or piece
  };
  CHECK_THROWS_AS(merge_layer_into_child(chain.layer, chain.child, options), LayerMergeCancelled);
  REQUIRE(reports.size() == 2);
  CHECK(reports[0] == 0);
  CHECK(reports[1] > 0);
  CHECK(reports[1] < kDisk);

  // Part of the layer was taken over, not all of it.
  CHECK(child_allocates(chain.child, 4096));
  CHECK_FALSE(child_allocates(chain.child, kDisk - 2 * MiB + 4096 + 7));
  CHECK(backing_of(chain.child) == "layer.qcow2");
  CHECK(guest_view(chain.child) == before);
  CHECK(bytes_of_file(chain.layer) == layer_file);
  expect_clean(chain.child);

  // A stop requested before the start: nothing is copied.
  std::stop_source early;
  early.request_stop();
  LayerMergeOptions stopped;
  stopped.stop = early.get_token();
  CHECK_THROWS_AS(merge_layer_into_child(chain.layer, chain.child, stopped), LayerMergeCancelled);
  CHECK_FALSE(child_allocates(chain.child, kDisk - 2 * MiB + 4096 + 7));
  CHECK(guest_view(chain.child) == before);

  // The rerun finishes: the rest is copied, the child moves onto the base.
  std::vector<std::uint64_t> rerun;
  const LayerMergeResult result = merge_layer_into_child(
      chain.layer, chain.child, [&](std::uint64_t done, std::uint64_t) { rerun.push_back(done); });
  CHECK_FALSE(result.already_merged);
  CHECK(result.bytes_copied > 0);
  REQUIRE_FALSE(rerun.empty());
  CHECK(rerun.back() == kDisk);
  CHECK(backing_of(chain.child) == "base.qcow2");
  CHECK(guest_view(chain.child) == before);
  CHECK(bytes_of_file(chain.layer) == layer_file);
  expect_clean(chain.child);
}

TEST_CASE("layer merge cancel: a copy-only merge keeps the child on the layer; the full merge then only rebases") {
  CancelTempDir dir;
  const CancelChain chain = build(dir.path);
  const std::vector<std::uint8_t> before = guest_view(chain.child);
  const std::vector<std::uint8_t> layer_file = bytes_of_file(chain.layer);

  LayerMergeOptions copy_only;
  copy_only.copy_only = true;
  const LayerMergeResult copied = merge_layer_into_child(chain.layer, chain.child, copy_only);
  CHECK_FALSE(copied.already_merged);
  CHECK(copied.bytes_copied > 0);
  CHECK(backing_of(chain.child) == "layer.qcow2");
  CHECK(child_allocates(chain.child, kDisk - 2 * MiB + 4096 + 7));
  CHECK(guest_view(chain.child) == before);
  expect_clean(chain.child);

  const LayerMergeResult merged = merge_layer_into_child(chain.layer, chain.child);
  CHECK_FALSE(merged.already_merged);
  CHECK(merged.bytes_copied == 0);
  CHECK(backing_of(chain.child) == "base.qcow2");
  CHECK(guest_view(chain.child) == before);
  CHECK(bytes_of_file(chain.layer) == layer_file);
  expect_clean(chain.child);
}
