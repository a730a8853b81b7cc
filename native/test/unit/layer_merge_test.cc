#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "block/layer_merge.h"
#include "block/qcow2_image.h"
#include "block/raw_image.h"

using namespace nestbox::block;

namespace {

constexpr std::uint64_t kSize = 8 << 20;
constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * 1024;

struct MergeTempDir {
  std::string path;
  MergeTempDir() {
    char pattern[] = "/tmp/nestbox-merge-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~MergeTempDir() { std::filesystem::remove_all(path); }
};

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::uint8_t> pattern(std::uint64_t length, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<std::uint8_t> bytes(length);
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(random() | 1);  // never zero
  return bytes;
}

std::vector<std::uint8_t> content(const std::string& path) {
  auto image = open_disk_image(path, {.read_only = true});
  std::vector<std::uint8_t> bytes(image->virtual_size());
  image->read(0, bytes);
  image->close();
  return bytes;
}

Qcow2Header header_of(const std::string& path) {
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  return image->header();
}

int check_status(const std::string& path) {
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  return image->check().exit_status();
}

template <typename Action>
DiskImageError merge_error(Action&& action) {
  try {
    action();
  } catch (const DiskImageError& error) {
    return error;
  }
  FAIL("expected a DiskImageError");
  return DiskImageError(DiskImageErrorCode::IoError, "");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Qcow2CreateOptions options(const std::string& backing, std::uint64_t cluster_size = 64 * KiB) {
  Qcow2CreateOptions result;
  result.backing_file = backing;
  result.cluster_size = cluster_size;
  return result;
}

// Random writes, zeroes and discards, many of them not cluster aligned, below
// kScribbleEnd (the tests place known ranges above it).
constexpr std::uint64_t kScribbleEnd = 7 * MiB;

void scribble(DiskImage& image, std::uint32_t seed, int operations) {
  std::mt19937_64 random(seed);
  for (int op = 0; op < operations; ++op) {
    const std::uint64_t offset = random() % kScribbleEnd;
    const std::uint64_t length = 1 + random() % std::min<std::uint64_t>(kScribbleEnd - offset, 300 * KiB);
    switch (random() % 6) {
      case 0: image.write_zeroes(offset, length); break;
      case 1: image.discard(offset, length); break;
      default: image.write(offset, pattern(length, static_cast<std::uint32_t>(random()))); break;
    }
  }
}

// base.qcow2 ← layer.qcow2 ← child.qcow2 in `dir` (relative backing names),
// each layer written over the one below: partial clusters, zero clusters,
// discards, overlapping ranges. Without `layer_backed` the layer has no backing file.
struct Chain {
  std::string base, layer, child;
};

Chain build_chain(const std::string& dir, std::uint64_t layer_cluster, std::uint64_t child_cluster,
                  bool layer_backed = true) {
  Chain chain{dir + "/base.qcow2", dir + "/layer.qcow2", dir + "/child.qcow2"};
  if (layer_backed) {
    Qcow2Image::create(chain.base, kSize, {});
    auto base = open_disk_image(chain.base);
    base->write(0, pattern(kSize, 1));
    base->close();
  }
  Qcow2Image::create(chain.layer, kSize, options(layer_backed ? "base.qcow2" : "", layer_cluster));
  {
    auto layer = open_disk_image(chain.layer);
    layer->write(100'000, pattern(300'000, 2));
    layer->write(2 * MiB, pattern(64 * KiB, 3));
    layer->write_zeroes(3 * MiB, 256 * KiB);
    layer->write_zeroes(3 * MiB + 300 * KiB + 17, 5000);
    layer->discard(4 * MiB, 128 * KiB);
    layer->write(5 * MiB + 123, pattern(70'000, 4));
    layer->write(kSize - 1000, pattern(1000, 5));
    scribble(*layer, 6, 40);
    layer->write_zeroes(7 * MiB, 256 * KiB);
    layer->close();
  }
  Qcow2Image::create(chain.child, kSize, options("layer.qcow2", child_cluster));
  auto child = open_disk_image(chain.child);
  child->write(150'000, pattern(10'000, 7));
  child->write(2 * MiB + 32 * KiB, pattern(64 * KiB, 8));
  child->write(3 * MiB + 100 * KiB, pattern(3, 9));
  child->write_zeroes(5 * MiB, 64 * KiB);
  child->discard(6 * MiB, 256 * KiB);
  scribble(*child, 10, 25);
  child->close();
  return chain;
}

}  // namespace

TEST_CASE("layer merge: the child reads the same, uses the base afterwards, and the layer is untouched") {
  struct Sizes {
    std::uint64_t layer, child;
  };
  for (const Sizes sizes : {Sizes{64 * KiB, 64 * KiB}, Sizes{4 * KiB, 64 * KiB}, Sizes{64 * KiB, 512}}) {
    CAPTURE(sizes.layer);
    CAPTURE(sizes.child);
    MergeTempDir dir;
    const Chain chain = build_chain(dir.path, sizes.layer, sizes.child);
    const std::vector<std::uint8_t> before = content(chain.child);
    const std::vector<std::uint8_t> layer_file = file_bytes(chain.layer);

    std::vector<std::uint64_t> reports;
    const LayerMergeResult result = merge_layer_into_child(
        chain.layer, chain.child, [&](std::uint64_t done, std::uint64_t total) {
          CHECK(total == kSize);
          CHECK(done <= total);
          if (!reports.empty()) CHECK(done >= reports.back());
          reports.push_back(done);
        });
    CHECK_FALSE(result.already_merged);
    CHECK(result.bytes_copied > 0);
    CHECK(result.clusters_copied > 0);
    REQUIRE(!reports.empty());
    CHECK(reports.front() == 0);
    CHECK(reports.back() == kSize);

    CHECK(content(chain.child) == before);
    CHECK(file_bytes(chain.layer) == layer_file);
    const Qcow2Header header = header_of(chain.child);
    CHECK(header.backing_file == "base.qcow2");
    CHECK(header.backing_format == "qcow2");
    if (sizes.child >= 1024) CHECK(!header.feature_names.empty());  // smaller clusters have no room for it
    CHECK(check_status(chain.child) == 0);
    {
      auto child = open_disk_image(chain.child, {.read_only = true});
      REQUIRE(child->backing() != nullptr);
      CHECK(child->backing()->path() == dir.path + "/base.qcow2");
    }

    // The layer's zero clusters stay zero clusters in the child: no data written.
    auto child = Qcow2Image::open(chain.child, {.read_only = true}, {});
    const Qcow2Allocation zeroes = child->allocation_status(7 * MiB, 256 * KiB);
    CHECK(zeroes.allocated);
    CHECK(zeroes.zero);
    CHECK(zeroes.length == 256 * KiB);
    child->close();

    // Running it again finds the work done.
    const LayerMergeResult again = merge_layer_into_child(chain.layer, chain.child);
    CHECK(again.already_merged);
    CHECK(content(chain.child) == before);
  }
}

TEST_CASE("layer merge: a layer without a backing file leaves the child without one") {
  MergeTempDir dir;
  const Chain chain = build_chain(dir.path, 64 * KiB, 64 * KiB, false);
  const std::vector<std::uint8_t> before = content(chain.child);
  const LayerMergeResult result = merge_layer_into_child(chain.layer, chain.child);
  CHECK(result.bytes_copied > 0);
  const Qcow2Header header = header_of(chain.child);
  CHECK(header.backing_file.empty());
  CHECK(header.backing_format.empty());
  CHECK(header.backing_file_offset == 0);
  CHECK(content(chain.child) == before);
  CHECK(check_status(chain.child) == 0);
  CHECK(merge_layer_into_child(chain.layer, chain.child).already_merged);
}

TEST_CASE("layer merge: a child in another folder names the base by its absolute path") {
  MergeTempDir dir;
  const Chain chain = build_chain(dir.path, 64 * KiB, 64 * KiB);
  std::filesystem::create_directory(dir.path + "/other");
  const std::string child = dir.path + "/other/child.qcow2";
  Qcow2Image::create(child, kSize, options("../layer.qcow2"));
  {
    auto image = open_disk_image(child);
    image->write(MiB + 5, pattern(200'000, 11));
    image->close();
  }
  const std::vector<std::uint8_t> before = content(child);
  merge_layer_into_child(chain.layer, child);
  CHECK(header_of(child).backing_file == chain.base);
  CHECK(content(child) == before);
}

TEST_CASE("layer merge: a child larger than the layer keeps reading zeroes past the layer's end") {
  MergeTempDir dir;
  const std::string base = dir.path + "/base.qcow2";
  const std::string layer = dir.path + "/layer.qcow2";
  const std::string child = dir.path + "/child.qcow2";
  Qcow2Image::create(base, kSize, {});
  {
    auto image = open_disk_image(base);
    image->write(0, pattern(kSize, 12));
    image->close();
  }
  Qcow2Image::create(layer, 6 * MiB, options("base.qcow2"));
  Qcow2Image::create(child, kSize, options("layer.qcow2"));
  const std::vector<std::uint8_t> before = content(child);
  CHECK(before[7 * MiB] == 0);
  merge_layer_into_child(layer, child);
  CHECK(content(child) == before);
}

TEST_CASE("layer merge: refuses a child that does not use the layer, and a raw layer") {
  MergeTempDir dir;
  const Chain chain = build_chain(dir.path, 64 * KiB, 64 * KiB);
  const std::string other = dir.path + "/other.qcow2";
  const std::string stranger = dir.path + "/stranger.qcow2";
  Qcow2Image::create(other, kSize, {});
  Qcow2Image::create(stranger, kSize, options("other.qcow2"));
  const std::vector<std::uint8_t> stranger_file = file_bytes(stranger);

  const DiskImageError error = merge_error([&] { merge_layer_into_child(chain.layer, stranger); });
  CHECK(error.code() == DiskImageErrorCode::BackingChain);
  CHECK(contains(error.what(), stranger));
  CHECK(contains(error.what(), chain.layer));
  CHECK(contains(error.what(), other));
  CHECK(file_bytes(stranger) == stranger_file);

  // The base is not the child's backing file either (the child uses the layer).
  CHECK(merge_error([&] { merge_layer_into_child(chain.base, chain.child); }).code() ==
        DiskImageErrorCode::BackingChain);

  const std::string raw = dir.path + "/disk.raw";
  const std::string over_raw = dir.path + "/over-raw.qcow2";
  RawImage::create(raw, kSize);
  Qcow2Image::create(over_raw, kSize, options("disk.raw"));
  const DiskImageError raw_error = merge_error([&] { merge_layer_into_child(raw, over_raw); });
  CHECK(raw_error.code() == DiskImageErrorCode::InvalidArgument);
  CHECK(contains(raw_error.what(), "raw"));
}

TEST_CASE("layer merge: cancelling from the progress callback leaves the child intact; a second run completes") {
  MergeTempDir dir;
  const Chain chain = build_chain(dir.path, 64 * KiB, 64 * KiB);
  const std::vector<std::uint8_t> before = content(chain.child);
  struct Cancelled {};
  std::uint64_t cancelled_at = 0;
  CHECK_THROWS_AS(merge_layer_into_child(chain.layer, chain.child,
                                         [&](std::uint64_t done, std::uint64_t) {
                                           if (done > 0) {
                                             cancelled_at = done;
                                             throw Cancelled{};
                                           }
                                         }),
                  Cancelled);
  CHECK(cancelled_at > 0);
  CHECK(cancelled_at < kSize);
  CHECK(header_of(chain.child).backing_file == "layer.qcow2");
  CHECK(content(chain.child) == before);
  CHECK(check_status(chain.child) == 0);

  const LayerMergeResult result = merge_layer_into_child(chain.layer, chain.child);
  CHECK_FALSE(result.already_merged);
  CHECK(header_of(chain.child).backing_file == "base.qcow2");
  CHECK(content(chain.child) == before);
}

TEST_CASE("layer merge: a process killed mid-merge leaves a valid child; running it again completes") {
  MergeTempDir dir;
  const Chain chain = build_chain(dir.path, 64 * KiB, 64 * KiB);
  const std::vector<std::uint8_t> before = content(chain.child);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int calls = 0;
    try {
      merge_layer_into_child(chain.layer, chain.child, [&](std::uint64_t, std::uint64_t) {
        if (++calls == 2) ::kill(::getpid(), SIGKILL);
      });
    } catch (...) {
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  CHECK(header_of(chain.child).backing_file == "layer.qcow2");
  CHECK(content(chain.child) == before);
  CHECK(check_status(chain.child) != 2);  // leaked clusters at worst
  merge_layer_into_child(chain.layer, chain.child);
  CHECK(content(chain.child) == before);
  CHECK(check_status(chain.child) == 0);
  CHECK(header_of(chain.child).backing_file == "base.qcow2");
}

TEST_CASE("rebase: rewrites only the backing reference, keeping the header extensions") {
  MergeTempDir dir;
  const Chain chain = build_chain(dir.path, 64 * KiB, 64 * KiB);
  const Qcow2Header old_header = header_of(chain.child);

  // Unsafe: what the child does not allocate now reads from the base.
  rebase_backing_file(chain.child, "base.qcow2");
  Qcow2Header header = header_of(chain.child);
  CHECK(header.backing_file == "base.qcow2");
  CHECK(header.backing_format == "qcow2");
  CHECK(header.feature_names.size() == old_header.feature_names.size());
  CHECK(header.l1_table_offset == old_header.l1_table_offset);
  CHECK(header.incompatible_features == old_header.incompatible_features);
  CHECK(check_status(chain.child) == 0);
  {
    auto child = open_disk_image(chain.child, {.read_only = true});
    std::vector<std::uint8_t> bytes(64 * KiB);
    child->read(7 * MiB, bytes);  // untouched by layer and child: the base shows through
    auto base = open_disk_image(chain.base, {.read_only = true});
    std::vector<std::uint8_t> expected(64 * KiB);
    base->read(7 * MiB, expected);
    CHECK(bytes == expected);
  }

  // Back to a longer name, then none.
  rebase_backing_file(chain.child, chain.layer, "qcow2");
  CHECK(header_of(chain.child).backing_file == chain.layer);
  rebase_backing_file(chain.child, "");
  header = header_of(chain.child);
  CHECK(header.backing_file.empty());
  CHECK(header.backing_format.empty());
  CHECK(check_status(chain.child) == 0);

  // Refusals change nothing.
  const std::vector<std::uint8_t> child_file = file_bytes(chain.child);
  CHECK(merge_error([&] { rebase_backing_file(chain.child, "missing.qcow2"); }).code() ==
        DiskImageErrorCode::NotFound);
  CHECK(merge_error([&] { rebase_backing_file(chain.child, "base.qcow2", "vmdk"); }).code() ==
        DiskImageErrorCode::InvalidArgument);
  CHECK(merge_error([&] { rebase_backing_file(chain.child, "child.qcow2"); }).code() ==
        DiskImageErrorCode::BackingChain);
  CHECK(file_bytes(chain.child) == child_file);
  // A loop through another image: base ← child would make child ← layer ← base ← child.
  rebase_backing_file(chain.child, "layer.qcow2");
  CHECK(merge_error([&] { rebase_backing_file(chain.base, "child.qcow2"); }).code() ==
        DiskImageErrorCode::BackingChain);
}

TEST_CASE("rebase: refuses a name that does not fit before the first cluster") {
  MergeTempDir dir;
  // 1 KiB clusters: the header, its feature-name table and the backing format
  // extension leave under 500 bytes for the name.
  const std::string deep =
      dir.path + "/" + std::string(200, 'a') + "/" + std::string(200, 'b') + "/" + std::string(200, 'c');
  std::filesystem::create_directories(deep);
  const std::string far_base = deep + "/base.qcow2";
  const std::string near_base = dir.path + "/base.qcow2";
  Qcow2Image::create(far_base, MiB, {});
  Qcow2Image::create(near_base, MiB, {});
  const std::string child = dir.path + "/child.qcow2";
  Qcow2Image::create(child, MiB, options("", 1024));
  REQUIRE(!header_of(child).feature_names.empty());
  const std::vector<std::uint8_t> child_file = file_bytes(child);
  const DiskImageError error = merge_error([&] { rebase_backing_file(child, far_base); });
  CHECK(error.code() == DiskImageErrorCode::InvalidArgument);
  CHECK(contains(error.what(), "does not fit"));
  CHECK(file_bytes(child) == child_file);
  rebase_backing_file(child, "base.qcow2");
  CHECK(header_of(child).backing_file == "base.qcow2");
  CHECK(!header_of(child).feature_names.empty());
  CHECK(check_status(child) == 0);
}
