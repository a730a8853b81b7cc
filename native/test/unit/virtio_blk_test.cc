#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "block/disk_image.h"
#include "block/disk_image_error.h"
#include "block/raw_image.h"
#include "bus/pci/msi_sink.h"
#include "bus/pci/pci_root_complex.h"
#include "devices/virtio/blk/disk_io_workers.h"
#include "devices/virtio/blk/virtio_blk.h"
#include "devices/virtio/blk/virtio_blk_abi.h"
#include "devices/virtio/pci/virtio_pci_abi.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "devices/virtio/queue/virtq_abi.h"
#include "devices/virtio/virtio_abi.h"
#include "support/fake_guest_memory.h"
#include "support/fake_interrupt_line.h"
#include "support/virtio_pci_driver.h"
#include "support/virtqueue_builder.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::virtio;
namespace b = nestbox::virtio::blk;
using test::BufferSpec;
using test::QueueLayout;
using namespace std::chrono_literals;

namespace {

struct BlkTempDir {
  std::string path;
  BlkTempDir() {
    char pattern[] = "/tmp/nestbox-blk-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~BlkTempDir() { std::filesystem::remove_all(path); }
};

std::vector<std::uint8_t> read_file(const std::string& path, std::uint64_t offset, std::size_t length) {
  std::ifstream file(path, std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  std::vector<std::uint8_t> bytes(length);
  file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(length));
  REQUIRE(file.gcount() == static_cast<std::streamsize>(length));
  return bytes;
}

void write_file(const std::string& path, std::uint64_t offset, const std::vector<std::uint8_t>& bytes) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(file.good());
}

// A raw image file of `size` bytes (sparse: reads as zeroes).
std::string make_raw(const BlkTempDir& dir, std::uint64_t size, const char* name = "disk.raw") {
  const std::string path = dir.path + "/" + name;
  block::RawImage::create(path, size);
  return path;
}

// An in-memory disk with knobs for what a file cannot do on demand: a delay
// per I/O (by offset), failing writes, and counters of what happened.
class FakeDisk : public block::DiskImage {
 public:
  using Delay = std::function<std::chrono::milliseconds(std::uint64_t offset)>;

  explicit FakeDisk(std::uint64_t size, Delay delay = {}) : bytes_(size), delay_(std::move(delay)) {}

  block::ImageFormat format() const override { return block::ImageFormat::Raw; }
  const std::string& path() const override { return path_; }
  std::uint64_t virtual_size() const override { return bytes_.size(); }
  bool read_only() const override { return false; }
  const DiskImage* backing() const override { return nullptr; }
  std::uint64_t allocated_bytes() const override { return 0; }

  void read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    const Busy busy(*this, offset);
    check(offset, out.size());
    const std::lock_guard lock(mutex_);
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    const Busy busy(*this, offset);
    check(offset, data.size());
    if (fail_writes) {
      throw block::DiskImageError(block::DiskImageErrorCode::IoError, "fake.img: no space left");
    }
    const std::lock_guard lock(mutex_);
    std::memcpy(bytes_.data() + offset, data.data(), data.size());
  }
  void write_zeroes(std::uint64_t offset, std::uint64_t length) override {
    check(offset, length);
    ++zeroings;
    const std::lock_guard lock(mutex_);
    std::memset(bytes_.data() + offset, 0, length);
  }
  void discard(std::uint64_t offset, std::uint64_t length) override {
    check(offset, length);
    ++discards;
    const std::lock_guard lock(mutex_);
    std::memset(bytes_.data() + offset, 0, length);
  }
  void flush() override { ++flushes; }
  void close() override {}

  std::vector<std::uint8_t> contents(std::uint64_t offset, std::size_t length) const {
    const std::lock_guard lock(mutex_);
    return {bytes_.begin() + static_cast<std::ptrdiff_t>(offset),
            bytes_.begin() + static_cast<std::ptrdiff_t>(offset + length)};
  }

  std::atomic<int> started{0};  // reads and writes begun
  std::atomic<int> active{0};   // reads and writes in progress now
  std::atomic<int> flushes{0};
  std::atomic<int> discards{0};
  std::atomic<int> zeroings{0};
  std::atomic<bool> fail_writes{false};

 private:
  struct Busy {
    Busy(FakeDisk& disk, std::uint64_t offset) : disk_(disk) {
      ++disk_.started;
      ++disk_.active;
      if (disk_.delay_) std::this_thread::sleep_for(disk_.delay_(offset));
    }
    ~Busy() { --disk_.active; }
    FakeDisk& disk_;
  };
  void check(std::uint64_t offset, std::uint64_t length) const {
    if (offset > bytes_.size() || length > bytes_.size() - offset) {
      throw block::DiskImageError(block::DiskImageErrorCode::OutOfRange, "fake.img: out of range");
    }
  }

  const std::string path_ = "fake.img";
  mutable std::mutex mutex_;
  std::vector<std::uint8_t> bytes_;
  Delay delay_;
};

// MSI-X messages arrive on disk workers: count them under a lock.
class CountingSink : public pci::MsiSink {
 public:
  void send_msi(const pci::MsiMessage&) override {
    const std::lock_guard lock(mutex_);
    ++sent_;
  }
  int sent() const {
    const std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  mutable std::mutex mutex_;
  int sent_ = 0;
};

class NullMapper : public pci::PciBarMapper {
 public:
  void map_bar(const pci::PciBarMapping&) override {}
  void unmap_bar(const pci::PciBarMapping&) override {}
};

struct Log {
  void add(std::string_view line) {
    const std::lock_guard lock(mutex);
    lines.emplace_back(line);
  }
  bool has(const std::string& part) const {
    const std::lock_guard lock(mutex);
    for (const std::string& line : lines) {
      if (test::contains(line, part)) return true;
    }
    return false;
  }
  mutable std::mutex mutex;
  std::vector<std::string> lines;
};

// Guest memory map of the rig.
constexpr std::uint64_t kQueueBase = 0x1000;     // descriptors, avail and used rings
constexpr std::uint64_t kHeaders = 0x4000;       // header of slot k at + 0x20 k
constexpr std::uint64_t kStatuses = 0x6000;      // status byte of slot k at + k
constexpr std::uint64_t kIndirect = 0x8000;      // indirect tables
constexpr std::uint64_t kData = 0x10000;         // data of slot k at + 0x1000 k (64 slots)
constexpr std::uint64_t kBigBuffer = 0x80000;    // 512 KiB
constexpr std::uint8_t kUnset = 0xff;            // status bytes before the device answers

std::uint64_t header_at(std::uint16_t slot) { return kHeaders + 0x20ull * slot; }
std::uint64_t status_at(std::uint16_t slot) { return kStatuses + slot; }
std::uint64_t data_at(std::uint16_t slot) { return kData + 0x1000ull * slot; }

// A virtio-blk behind the real transport, driven the way a guest driver would.
struct BlkRig {
  GuestMemory memory = test::make_guest_memory();
  std::shared_ptr<Log> log = std::make_shared<Log>();
  std::shared_ptr<CountingSink> sink = std::make_shared<CountingSink>();
  std::array<std::shared_ptr<test::FakeInterruptLine>, 4> lines{
      std::make_shared<test::FakeInterruptLine>(), std::make_shared<test::FakeInterruptLine>(),
      std::make_shared<test::FakeInterruptLine>(), std::make_shared<test::FakeInterruptLine>()};
  NullMapper mapper;
  pci::PciRootComplex root{mapper, {lines[0], lines[1], lines[2], lines[3]}};
  VirtioBlk* blk = nullptr;
  std::shared_ptr<VirtioPciDevice> transport;
  std::unique_ptr<test::VirtioPciDriver> driver;
  QueueLayout layout = QueueLayout::contiguous(kQueueBase, VirtioBlk::kQueueSize);
  test::VirtqueueBuilder ring{memory, layout};

  explicit BlkRig(std::shared_ptr<block::DiskImage> image, bool read_only = false,
                  std::string serial = "nestbox-serial-0") {
    auto device = std::make_unique<VirtioBlk>(std::move(image), read_only, std::move(serial),
                                              [log = log](std::string_view line) { log->add(line); });
    blk = device.get();
    transport = std::make_shared<VirtioPciDevice>(std::move(device), memory, sink,
                                                  [log = log](std::string_view line) { log->add(line); });
    root.add_device(1, transport);
    driver = std::make_unique<test::VirtioPciDriver>(*transport);
  }

  void bring_up(std::uint64_t features = kFeatureVersion1) {
    driver->enable_msix(2, 0xfee0'0000, 0x40);
    REQUIRE((driver->negotiate(features) & kStatusFeaturesOk) != 0);
    driver->setup_queue(0, layout, 0);
    driver->set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    REQUIRE((driver->status() & kStatusDriverOk) != 0);
  }

  // The used index as the guest sees it; the device publishes it from a worker.
  std::uint16_t used_idx() const {
    auto* field = reinterpret_cast<std::uint16_t*>(memory.span(layout.used_ring + kUsedIdxOffset, 2).data());
    return std::atomic_ref<std::uint16_t>(*field).load(std::memory_order_acquire);
  }
  bool wait_used(std::uint16_t count, std::chrono::milliseconds timeout = 10s) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (static_cast<std::uint16_t>(used_idx()) < count) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
  // The used length the device returned for `head` (nullopt: not returned).
  std::optional<std::uint32_t> used_length(std::uint16_t head) const {
    const std::uint16_t count = used_idx();
    for (std::uint16_t i = 0; i < count; ++i) {
      const VirtqUsedElement element = ring.used_element(i);
      if (element.id == head) return element.length;
    }
    return std::nullopt;
  }

  void header(std::uint16_t slot, std::uint32_t type, std::uint64_t sector) {
    memory.write_object(header_at(slot), b::RequestHeader{type, 0, sector});
    memory.write_object<std::uint8_t>(status_at(slot), kUnset);
  }
  // Slot k uses descriptors 3k..3k+2: header, data (if any), status. Returns the head.
  std::uint16_t request(std::uint16_t slot, std::uint32_t type, std::uint64_t sector,
                        std::uint32_t data_length = 0, bool device_writes_data = false) {
    header(slot, type, sector);
    std::vector<BufferSpec> chain{{header_at(slot), 16, false}};
    if (data_length != 0) chain.push_back({data_at(slot), data_length, device_writes_data});
    chain.push_back({status_at(slot), 1, true});
    return post(static_cast<std::uint16_t>(3 * slot), chain);
  }
  std::uint16_t post(std::uint16_t head, const std::vector<BufferSpec>& chain) {
    ring.write_chain(head, chain);
    ring.make_available(head);
    return head;
  }
  void kick() { transport->notify_queue(0); }

  // One request start to finish: post, notify, wait, return the status byte.
  std::uint8_t run(std::uint16_t slot, std::uint32_t type, std::uint64_t sector,
                   std::uint32_t data_length = 0, bool device_writes_data = false) {
    const std::uint16_t before = used_idx();
    request(slot, type, sector, data_length, device_writes_data);
    kick();
    REQUIRE(wait_used(static_cast<std::uint16_t>(before + 1)));
    return status(slot);
  }

  std::uint8_t status(std::uint16_t slot) const { return memory.read_object<std::uint8_t>(status_at(slot)); }
  void fill(std::uint64_t address, std::size_t length, std::uint8_t value) const {
    const auto span = memory.span(address, length);
    std::fill(span.begin(), span.end(), value);
  }
  std::vector<std::uint8_t> bytes(std::uint64_t address, std::size_t length) const {
    const auto span = memory.span(address, length);
    return {span.begin(), span.end()};
  }
};

std::vector<std::uint8_t> pattern(std::size_t length, std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(length);
  for (std::size_t i = 0; i < length; ++i) bytes[i] = static_cast<std::uint8_t>(seed + i * 13);
  return bytes;
}

template <typename Predicate>
bool eventually(Predicate&& predicate, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("virtio-blk: features and configuration space") {
  BlkTempDir dir;
  const std::string path = make_raw(dir, 3 * 1024 * 1024 + 100);  // a ragged tail

  SUBCASE("a writable disk") {
    BlkRig rig(block::open_disk_image(path));
    CHECK(rig.driver->config_read<std::uint16_t>(pci::kDeviceId) == 0x1042);
    const std::uint64_t features = rig.driver->device_features();
    for (std::uint64_t bit : {b::kFeatureSizeMax, b::kFeatureSegMax, b::kFeatureBlkSize, b::kFeatureFlush,
                              b::kFeatureDiscard, b::kFeatureWriteZeroes, kFeatureVersion1}) {
      CHECK((features & bit) != 0);
    }
    CHECK((features & b::kFeatureReadOnly) == 0);
    CHECK((features & b::kFeatureMultiQueue) == 0);
    CHECK((features & b::kFeatureConfigWce) == 0);
    CHECK(rig.driver->read<std::uint16_t>(pci_transport::kQueueSize) == 256);

    const auto config = [&](std::uint32_t offset) { return VirtioPciDevice::kDeviceCfgOffset + offset; };
    CHECK(rig.driver->read<std::uint64_t>(config(b::kConfigCapacity)) == 6144);  // whole sectors only
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigSizeMax)) == b::kSizeMax);
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigSegMax)) == b::kSegMax);
    CHECK(std::uint64_t{b::kSegMax} * b::kSizeMax == b::kMaxRequestBytes);
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigBlkSize)) == 512);
    CHECK(rig.driver->read<std::uint16_t>(config(b::kConfigNumQueues)) == 1);
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigMaxDiscardSectors)) == b::kMaxDiscardSectors);
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigMaxDiscardSeg)) == b::kMaxDiscardSegments);
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigDiscardSectorAlignment)) == 8);
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigMaxWriteZeroesSectors)) ==
          b::kMaxWriteZeroesSectors);
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigMaxWriteZeroesSeg)) == b::kMaxWriteZeroesSegments);
    CHECK(rig.driver->read<std::uint8_t>(config(b::kConfigWriteZeroesMayUnmap)) == 1);
    // Odd-width reads inside a field, and writes are ignored.
    CHECK(rig.driver->read<std::uint8_t>(config(b::kConfigCapacity + 1)) == (6144 >> 8));
    rig.driver->write<std::uint32_t>(config(b::kConfigBlkSize), 4096);
    CHECK(rig.driver->read<std::uint32_t>(config(b::kConfigBlkSize)) == 512);
    CHECK(rig.blk->capacity_sectors() == 6144);
    CHECK_FALSE(rig.blk->read_only());
    CHECK(rig.log->has("not a multiple of 512"));
  }
  SUBCASE("a disk the VM config marks read-only") {
    BlkRig rig(block::open_disk_image(path), true);
    const std::uint64_t features = rig.driver->device_features();
    CHECK((features & b::kFeatureReadOnly) != 0);
    CHECK((features & b::kFeatureFlush) != 0);
    CHECK((features & (b::kFeatureDiscard | b::kFeatureWriteZeroes)) == 0);
    CHECK(rig.blk->read_only());
  }
  SUBCASE("an image opened read-only") {
    BlkRig rig(block::open_disk_image(path, {.read_only = true}), false);
    CHECK((rig.driver->device_features() & b::kFeatureReadOnly) != 0);
  }
  SUBCASE("no image") {
    CHECK(test::expect_error([] { VirtioBlk blk(nullptr, false, "x"); }).code == ErrorCode::InvalidConfig);
  }
}

TEST_CASE("virtio-blk: written sectors land in the image file and read back") {
  BlkTempDir dir;
  const std::string path = make_raw(dir, 1 << 20);
  BlkRig rig(block::open_disk_image(path));
  rig.bring_up();

  // OUT, with the header and the first data sector in one descriptor and the
  // second sector in another (virtio 1.x fixes no layout).
  const std::vector<std::uint8_t> data = pattern(1024, 3);
  const std::uint64_t combined = data_at(0);
  rig.memory.write_object(combined, b::RequestHeader{b::kRequestOut, 0, 2});
  rig.memory.write(combined + 16, std::span(data.data(), 512));
  rig.memory.write(data_at(1), std::span(data.data() + 512, 512));
  rig.memory.write_object<std::uint8_t>(status_at(0), kUnset);
  rig.post(0, {{combined, 16 + 512, false}, {data_at(1), 512, false}, {status_at(0), 1, true}});
  rig.kick();
  REQUIRE(rig.wait_used(1));
  CHECK(rig.status(0) == b::kStatusOk);
  CHECK(rig.used_length(0) == 1u);
  CHECK(read_file(path, 1024, 1024) == data);
  CHECK(read_file(path, 0, 1024) == std::vector<std::uint8_t>(1024, 0));
  CHECK(rig.sink->sent() >= 1);  // the driver heard about it (MSI-X vector 0)

  // IN, with the status byte in the same descriptor as the last data sector.
  rig.fill(data_at(4), 0x1000, 0xcc);
  rig.header(4, b::kRequestIn, 2);
  const std::uint64_t tail = data_at(5);
  rig.post(12, {{header_at(4), 16, false}, {data_at(4), 512, true}, {tail, 513, true}});
  rig.kick();
  REQUIRE(rig.wait_used(2));
  CHECK(rig.memory.read_object<std::uint8_t>(tail + 512) == b::kStatusOk);
  CHECK(rig.used_length(12) == 1025u);
  CHECK(rig.bytes(data_at(4), 512) == std::vector<std::uint8_t>(data.begin(), data.begin() + 512));
  CHECK(rig.bytes(tail, 512) == std::vector<std::uint8_t>(data.begin() + 512, data.end()));

  // The last sector of the disk is reachable.
  rig.fill(data_at(2), 512, 0x42);
  CHECK(rig.run(2, b::kRequestOut, 2047, 512) == b::kStatusOk);
  CHECK(read_file(path, (1 << 20) - 512, 512) == std::vector<std::uint8_t>(512, 0x42));

  const VirtioBlkState state = rig.blk->save();
  CHECK(state.read_requests == 1);
  CHECK(state.write_requests == 2);
  CHECK(state.bytes_written == 1536);
  CHECK(state.bytes_read == 1024);
  CHECK(state.failed_requests == 0);
}

TEST_CASE("virtio-blk: any layout: a split header, indirect tables") {
  BlkTempDir dir;
  const std::string path = make_raw(dir, 1 << 20);
  BlkRig rig(block::open_disk_image(path));
  rig.bring_up(kFeatureVersion1 | kFeatureIndirectDesc);

  // OUT through an indirect table: the header in two 8-byte pieces, then
  // three data sectors in separate buffers, then the status byte.
  rig.header(0, b::kRequestOut, 100);
  for (std::uint16_t i = 0; i < 3; ++i) {
    rig.memory.write(data_at(i), pattern(512, static_cast<std::uint8_t>(50 + i)));
  }
  rig.ring.write_indirect_chain(0, kIndirect,
                                {{header_at(0), 8, false},
                                 {header_at(0) + 8, 8, false},
                                 {data_at(0), 512, false},
                                 {data_at(1), 512, false},
                                 {data_at(2), 512, false},
                                 {status_at(0), 1, true}});
  rig.ring.make_available(0);
  rig.kick();
  REQUIRE(rig.wait_used(1));
  CHECK(rig.status(0) == b::kStatusOk);
  for (std::uint16_t i = 0; i < 3; ++i) {
    CHECK(read_file(path, (100ull + i) * 512, 512) == pattern(512, static_cast<std::uint8_t>(50 + i)));
  }

  // IN through an indirect table with the data split unevenly (100 + 924 bytes).
  rig.fill(data_at(4), 0x1000, 0);
  rig.header(4, b::kRequestIn, 100);
  rig.ring.write_indirect_chain(1, kIndirect + 0x400,
                                {{header_at(4), 16, false},
                                 {data_at(4), 100, true},
                                 {data_at(5), 924, true},
                                 {status_at(4), 1, true}});
  rig.ring.make_available(1);
  rig.kick();
  REQUIRE(rig.wait_used(2));
  CHECK(rig.status(4) == b::kStatusOk);
  CHECK(rig.used_length(1) == 1025u);
  std::vector<std::uint8_t> expected = pattern(512, 50);
  const std::vector<std::uint8_t> second = pattern(512, 51);
  expected.insert(expected.end(), second.begin(), second.end());
  std::vector<std::uint8_t> got = rig.bytes(data_at(4), 100);
  const std::vector<std::uint8_t> rest = rig.bytes(data_at(5), 924);
  got.insert(got.end(), rest.begin(), rest.end());
  CHECK(got == expected);
}

TEST_CASE("virtio-blk: GET_ID and FLUSH") {
  auto disk = std::make_shared<FakeDisk>(64 * 1024);
  SUBCASE("a long serial is cut to 20 bytes") {
    BlkRig rig(disk, false, "nestbox-0123456789-abcdefgh");
    rig.bring_up();
    rig.fill(data_at(0), 32, 0xee);
    CHECK(rig.run(0, b::kRequestGetId, 0, 20, true) == b::kStatusOk);
    CHECK(rig.used_length(0) == 21u);
    const std::string expected = "nestbox-0123456789-a";
    CHECK(rig.bytes(data_at(0), 20) == std::vector<std::uint8_t>(expected.begin(), expected.end()));
    CHECK(rig.memory.read_object<std::uint8_t>(data_at(0) + 20) == 0xee);
  }
  SUBCASE("a short serial is zero-padded; a short buffer gets what fits") {
    BlkRig rig(disk, false, "vd0");
    rig.bring_up();
    rig.fill(data_at(0), 32, 0xee);
    CHECK(rig.run(0, b::kRequestGetId, 0, 20, true) == b::kStatusOk);
    std::vector<std::uint8_t> expected(20, 0);
    expected[0] = 'v';
    expected[1] = 'd';
    expected[2] = '0';
    CHECK(rig.bytes(data_at(0), 20) == expected);
    rig.fill(data_at(1), 32, 0xee);
    CHECK(rig.run(1, b::kRequestGetId, 0, 2, true) == b::kStatusOk);
    CHECK(rig.used_length(3) == 3u);
    CHECK(rig.memory.read_object<std::uint8_t>(data_at(1) + 1) == 'd');
    CHECK(rig.memory.read_object<std::uint8_t>(data_at(1) + 2) == 0xee);
  }
  SUBCASE("FLUSH reaches the image; not on a read-only disk") {
    {
      BlkRig rig(disk, false);
      rig.bring_up();
      CHECK(rig.run(0, b::kRequestFlush, 0) == b::kStatusOk);
      CHECK(rig.used_length(0) == 1u);
      CHECK(disk->flushes == 1);
      CHECK(rig.blk->save().flush_requests == 1);
    }
    BlkRig read_only(disk, true);
    read_only.bring_up();
    CHECK(read_only.run(0, b::kRequestFlush, 0) == b::kStatusOk);
    CHECK(disk->flushes == 1);
  }
}

TEST_CASE("virtio-blk: DISCARD and WRITE_ZEROES read back as zeroes") {
  BlkTempDir dir;
  const std::string path = make_raw(dir, 1 << 20);
  write_file(path, 0, std::vector<std::uint8_t>(16 * 512, 0xab));
  BlkRig rig(block::open_disk_image(path));
  rig.bring_up();

  const auto segments = [&](std::uint16_t slot, std::vector<b::DiscardWriteZeroesSegment> list) {
    rig.memory.write(data_at(slot), std::span(reinterpret_cast<const std::uint8_t*>(list.data()),
                                              list.size() * sizeof(b::DiscardWriteZeroesSegment)));
    return static_cast<std::uint32_t>(list.size() * sizeof(b::DiscardWriteZeroesSegment));
  };

  // Two discard ranges in one request, then a write-zeroes that may unmap.
  const std::uint32_t discard_bytes = segments(0, {{0, 2, 0}, {3, 1, 0}});
  CHECK(rig.run(0, b::kRequestDiscard, 0, discard_bytes) == b::kStatusOk);
  const std::uint32_t zero_bytes = segments(1, {{8, 4, b::kSegmentFlagUnmap}});
  CHECK(rig.run(1, b::kRequestWriteZeroes, 0, zero_bytes) == b::kStatusOk);
  CHECK(rig.used_length(3) == 1u);

  const std::vector<std::uint8_t> file = read_file(path, 0, 16 * 512);
  const auto sector_is = [&](std::size_t sector, std::uint8_t value) {
    for (std::size_t i = 0; i < 512; ++i) {
      if (file[sector * 512 + i] != value) return false;
    }
    return true;
  };
  for (std::size_t sector : {0, 1, 3, 8, 9, 10, 11}) CHECK_MESSAGE(sector_is(sector, 0), "sector ", sector);
  for (std::size_t sector : {2, 4, 7, 12, 15}) CHECK_MESSAGE(sector_is(sector, 0xab), "sector ", sector);

  // Read back through the device too.
  rig.fill(data_at(2), 1024, 0x11);
  CHECK(rig.run(2, b::kRequestIn, 8, 1024, true) == b::kStatusOk);
  CHECK(rig.bytes(data_at(2), 1024) == std::vector<std::uint8_t>(1024, 0));
  CHECK(rig.blk->save().discard_requests == 2);

  SUBCASE("unmap on a discard, or an unknown flag, is UNSUPP") {
    CHECK(rig.run(3, b::kRequestDiscard, 0, segments(3, {{12, 1, b::kSegmentFlagUnmap}})) ==
          b::kStatusUnsupported);
    CHECK(rig.run(4, b::kRequestWriteZeroes, 0, segments(4, {{12, 1, 2}})) == b::kStatusUnsupported);
    CHECK(read_file(path, 12 * 512, 512) == std::vector<std::uint8_t>(512, 0xab));
  }
  SUBCASE("bad segment lists are IOERR and change nothing") {
    // One good range and one past the end: validated as a whole first.
    CHECK(rig.run(3, b::kRequestDiscard, 0, segments(3, {{12, 1, 0}, {2047, 2, 0}})) == b::kStatusIoErr);
    CHECK(rig.run(4, b::kRequestWriteZeroes, 0, segments(4, {{~0ull - 1, 4, 0}})) == b::kStatusIoErr);
    CHECK(rig.run(5, b::kRequestWriteZeroes, 0, segments(5, {{0, b::kMaxWriteZeroesSectors + 1, 0}})) ==
          b::kStatusIoErr);
    CHECK(rig.run(6, b::kRequestDiscard, 0) == b::kStatusIoErr);  // no segment at all
    CHECK(rig.run(7, b::kRequestDiscard, 0, 24) == b::kStatusIoErr);  // not a multiple of 16
    std::vector<b::DiscardWriteZeroesSegment> many(b::kMaxDiscardSegments + 1, {12, 1, 0});
    CHECK(rig.run(8, b::kRequestDiscard, 0, segments(8, many)) == b::kStatusIoErr);
    CHECK(read_file(path, 12 * 512, 512) == std::vector<std::uint8_t>(512, 0xab));
    CHECK(rig.blk->save().failed_requests == 6);
  }
}

TEST_CASE("virtio-blk: a read-only disk refuses writes with IOERR and the file stays unchanged") {
  BlkTempDir dir;
  const std::string path = make_raw(dir, 1 << 20);
  const std::vector<std::uint8_t> original = pattern(4096, 9);
  write_file(path, 0, original);
  BlkRig rig(block::open_disk_image(path), true);  // the file itself is writable
  rig.bring_up();

  rig.fill(data_at(0), 1024, 0x00);
  CHECK(rig.run(0, b::kRequestOut, 0, 1024) == b::kStatusIoErr);
  CHECK(rig.used_length(0) == 1u);
  rig.memory.write_object(data_at(1), b::DiscardWriteZeroesSegment{0, 8, 0});
  CHECK(rig.run(1, b::kRequestDiscard, 0, 16) == b::kStatusIoErr);
  rig.memory.write_object(data_at(2), b::DiscardWriteZeroesSegment{0, 8, 0});
  CHECK(rig.run(2, b::kRequestWriteZeroes, 0, 16) == b::kStatusIoErr);
  CHECK(read_file(path, 0, 4096) == original);
  CHECK(rig.log->has("read-only"));

  // Reads still work.
  CHECK(rig.run(3, b::kRequestIn, 0, 512, true) == b::kStatusOk);
  CHECK(rig.bytes(data_at(3), 512) == std::vector<std::uint8_t>(original.begin(), original.begin() + 512));
}

TEST_CASE("virtio-blk: requests that do not fit the disk or the limits are IOERR") {
  auto disk = std::make_shared<FakeDisk>(8 * 1024 * 1024);  // 16384 sectors
  BlkRig rig(disk, false);
  rig.bring_up(kFeatureVersion1 | kFeatureIndirectDesc);
  const int reads_before = disk->started;

  SUBCASE("past the end") {
    CHECK(rig.run(0, b::kRequestIn, 16383, 1024, true) == b::kStatusIoErr);
    CHECK(rig.run(1, b::kRequestOut, 16384, 512) == b::kStatusIoErr);
    CHECK(rig.log->has("past the end"));
  }
  SUBCASE("sector numbers that would overflow") {
    CHECK(rig.run(0, b::kRequestIn, ~0ull, 512, true) == b::kStatusIoErr);
    CHECK(rig.run(1, b::kRequestOut, ~0ull / 512 + 1, 512) == b::kStatusIoErr);
  }
  SUBCASE("not a whole number of sectors") {
    CHECK(rig.run(0, b::kRequestIn, 0, 1000, true) == b::kStatusIoErr);
    CHECK(rig.run(1, b::kRequestOut, 0, 511) == b::kStatusIoErr);
    CHECK(rig.log->has("whole number of sectors"));
  }
  SUBCASE("more data than one request may carry") {
    // Nine 512 KiB buffers (all the same guest memory) = 4.5 MiB.
    rig.fill(kBigBuffer, 512 * 1024, 0x77);
    rig.header(0, b::kRequestIn, 0);
    std::vector<BufferSpec> chain{{header_at(0), 16, false}};
    for (int i = 0; i < 9; ++i) chain.push_back({kBigBuffer, 512 * 1024, true});
    chain.push_back({status_at(0), 1, true});
    rig.post(0, chain);
    rig.kick();
    REQUIRE(rig.wait_used(1));
    CHECK(rig.status(0) == b::kStatusIoErr);
    CHECK(rig.log->has("limit"));
    CHECK(rig.bytes(kBigBuffer, 512 * 1024) == std::vector<std::uint8_t>(512 * 1024, 0x77));
  }
  SUBCASE("more buffers than seg_max allows") {
    rig.header(0, b::kRequestIn, 0);
    std::vector<BufferSpec> chain{{header_at(0), 16, false}};
    for (std::uint32_t i = 0; i < b::kMaxChainBuffers; ++i) chain.push_back({data_at(0), 512, true});
    chain.push_back({status_at(0), 1, true});
    rig.ring.write_indirect_chain(0, kIndirect, chain);
    rig.ring.make_available(0);
    rig.kick();
    REQUIRE(rig.wait_used(1));
    CHECK(rig.status(0) == b::kStatusIoErr);
    CHECK(rig.log->has("buffers"));
  }
  SUBCASE("a header shorter than 16 bytes") {
    rig.header(0, b::kRequestIn, 0);
    rig.post(0, {{header_at(0), 8, false}, {data_at(0), 512, true}, {status_at(0), 1, true}});
    rig.kick();
    REQUIRE(rig.wait_used(1));
    CHECK(rig.status(0) == b::kStatusIoErr);
    CHECK(rig.used_length(0) == 1u);
    // Only a status byte, no header at all.
    rig.memory.write_object<std::uint8_t>(status_at(1), kUnset);
    rig.post(3, {{status_at(1), 1, true}});
    rig.kick();
    REQUIRE(rig.wait_used(2));
    CHECK(rig.status(1) == b::kStatusIoErr);
  }
  SUBCASE("unknown request types are UNSUPP") {
    CHECK(rig.run(0, 99, 0) == b::kStatusUnsupported);
    CHECK(rig.run(1, b::kRequestGetLifetime, 0, 16, true) == b::kStatusUnsupported);
    CHECK(rig.run(2, b::kRequestSecureErase, 0, 16) == b::kStatusUnsupported);
  }
  CHECK(disk->started == reads_before);  // nothing reached the image
  CHECK((rig.driver->status() & kStatusNeedsReset) == 0);
}

TEST_CASE("virtio-blk: a chain without a status byte puts the device in NEEDS_RESET") {
  auto disk = std::make_shared<FakeDisk>(64 * 1024);
  BlkRig rig(disk, false);
  rig.bring_up();

  SUBCASE("readable only") {
    rig.header(0, b::kRequestOut, 0);
    rig.post(0, {{header_at(0), 16, false}, {data_at(0), 512, false}});
  }
  SUBCASE("a single readable byte") {
    rig.post(0, {{status_at(0), 1, false}});
  }
  rig.kick();
  CHECK((rig.driver->status() & kStatusNeedsReset) != 0);
  CHECK(rig.log->has("no device-writable status byte"));
  CHECK(rig.sink->sent() == 0);  // no config vector was set: nothing to send, nothing crashed
  std::this_thread::sleep_for(20ms);
  CHECK(rig.used_idx() == 0);
  CHECK(disk->started == 0);

  // A reset and a fresh start bring the device back.
  rig.driver->set_status(0);
  rig.fill(kQueueBase, 0x3000, 0);
  rig.bring_up();
  CHECK(rig.run(1, b::kRequestGetId, 0, 20, true) == b::kStatusOk);
}

TEST_CASE("virtio-blk: a disk image error is IOERR with a log line, and the device goes on") {
  auto disk = std::make_shared<FakeDisk>(64 * 1024);
  BlkRig rig(disk, false);
  rig.bring_up();
  disk->fail_writes = true;
  CHECK(rig.run(0, b::kRequestOut, 0, 512) == b::kStatusIoErr);
  CHECK(rig.log->has("IMAGE_IO_ERROR"));
  CHECK(rig.log->has("no space left"));
  disk->fail_writes = false;
  CHECK(rig.run(1, b::kRequestOut, 0, 512) == b::kStatusOk);
  CHECK(rig.run(2, b::kRequestIn, 0, 512, true) == b::kStatusOk);
  CHECK((rig.driver->status() & kStatusNeedsReset) == 0);
}

TEST_CASE("virtio-blk: many concurrent requests come back with the right used entries") {
  BlkTempDir dir;
  const std::string path = make_raw(dir, 1 << 20);
  BlkRig rig(block::open_disk_image(path));
  rig.bring_up(kFeatureVersion1 | kFeatureEventIdx);
  constexpr std::uint16_t kRequests = 64;

  for (std::uint16_t slot = 0; slot < kRequests; ++slot) {
    rig.memory.write(data_at(slot), pattern(1024, static_cast<std::uint8_t>(slot)));
    rig.request(slot, b::kRequestOut, 5ull * slot, 1024);
  }
  rig.kick();
  REQUIRE(rig.wait_used(kRequests));
  std::set<std::uint32_t> heads;
  for (std::uint16_t i = 0; i < kRequests; ++i) {
    const VirtqUsedElement element = rig.ring.used_element(i);
    heads.insert(element.id);
    CHECK(element.length == 1);
  }
  CHECK(heads.size() == kRequests);
  for (std::uint16_t slot = 0; slot < kRequests; ++slot) {
    CHECK(heads.count(3u * slot) == 1);
    CHECK(rig.status(slot) == b::kStatusOk);
    CHECK(read_file(path, 5ull * 512 * slot, 1024) == pattern(1024, static_cast<std::uint8_t>(slot)));
  }

  // Now read them all back at once, into cleared buffers.
  for (std::uint16_t slot = 0; slot < kRequests; ++slot) {
    rig.fill(data_at(slot), 1024, 0);
    rig.request(slot, b::kRequestIn, 5ull * slot, 1024, true);
  }
  rig.kick();
  REQUIRE(rig.wait_used(2 * kRequests));
  heads.clear();
  for (std::uint16_t i = kRequests; i < 2 * kRequests; ++i) {
    const VirtqUsedElement element = rig.ring.used_element(i);
    heads.insert(element.id);
    CHECK(element.length == 1025);
  }
  CHECK(heads.size() == kRequests);
  for (std::uint16_t slot = 0; slot < kRequests; ++slot) {
    CHECK(rig.status(slot) == b::kStatusOk);
    CHECK(rig.bytes(data_at(slot), 1024) == pattern(1024, static_cast<std::uint8_t>(slot)));
  }
  std::this_thread::sleep_for(10ms);
  CHECK(rig.used_idx() == 2 * kRequests);  // nothing returned twice
  CHECK(rig.sink->sent() >= 1);
  CHECK(rig.sink->sent() <= 2 * kRequests);
  CHECK(rig.blk->save().read_requests == kRequests);
}

TEST_CASE("virtio-blk: reset with requests in flight waits for their I/O only, then nothing touches memory") {
  // Offsets decide the speed: sector 0 is slow, sector 1 medium, the rest quick.
  auto disk = std::make_shared<FakeDisk>(64 * 1024, [](std::uint64_t offset) {
    return offset == 0 ? 300ms : offset == 512 ? 100ms : 20ms;
  });
  BlkRig rig(disk, false);
  rig.bring_up();
  rig.request(0, b::kRequestIn, 0, 512, true);  // worker A: 300 ms
  rig.request(1, b::kRequestIn, 1, 512, true);  // worker B: 100 ms
  for (std::uint16_t slot = 2; slot < 10; ++slot) rig.request(slot, b::kRequestIn, slot, 512, true);
  rig.kick();
  REQUIRE(eventually([&] { return disk->started >= 2; }));

  // The reset holds the transport lock while it waits for A. B finishes its
  // I/O meanwhile and its completion queues up behind that lock: waiting for
  // completions here would deadlock.
  const auto start = std::chrono::steady_clock::now();
  rig.driver->set_status(0);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 150ms);  // it did wait for A's I/O
  CHECK(took < 5s);
  CHECK(disk->active == 0);
  CHECK(rig.driver->status() == 0);
  const int started = disk->started;
  CHECK(started < 10);  // queued requests were dropped

  // From here on the device must not touch guest memory.
  const std::uint16_t used = rig.used_idx();
  CHECK(used == 0);
  for (std::uint16_t slot = 0; slot < 10; ++slot) {
    rig.fill(data_at(slot), 512, 0x5a);
    rig.memory.write_object<std::uint8_t>(status_at(slot), 0x5a);
  }
  std::this_thread::sleep_for(400ms);
  rig.blk->drain();  // nothing left: returns at once
  CHECK(disk->started == started);
  CHECK(rig.used_idx() == used);
  for (std::uint16_t slot = 0; slot < 10; ++slot) {
    CHECK(rig.status(slot) == 0x5a);
    CHECK(rig.bytes(data_at(slot), 512) == std::vector<std::uint8_t>(512, 0x5a));
  }

  // And it starts over cleanly.
  rig.fill(kQueueBase, 0x3000, 0);
  rig.bring_up();
  CHECK(rig.run(12, b::kRequestIn, 5, 512, true) == b::kStatusOk);
  CHECK(rig.used_idx() == 1);
}

TEST_CASE("virtio-blk: drain() waits for every popped request; save and restore") {
  auto disk = std::make_shared<FakeDisk>(64 * 1024, [](std::uint64_t) { return 30ms; });
  BlkRig rig(disk, false);
  rig.bring_up();
  for (std::uint16_t slot = 0; slot < 5; ++slot) rig.request(slot, b::kRequestIn, slot, 512, true);
  rig.kick();
  rig.blk->drain();
  CHECK(rig.used_idx() == 5);  // no polling: drain returned only after the last completion
  for (std::uint16_t slot = 0; slot < 5; ++slot) CHECK(rig.status(slot) == b::kStatusOk);

  VirtioBlkState state = rig.blk->save();
  CHECK(state.capacity_sectors == 128);
  CHECK_FALSE(state.read_only);
  CHECK(state.read_requests == 5);
  CHECK(state.bytes_read == 5 * 512);

  VirtioBlk copy(std::make_shared<FakeDisk>(64 * 1024), false, "copy");
  copy.restore(state);
  CHECK(copy.save().read_requests == 5);
  VirtioBlk bigger(std::make_shared<FakeDisk>(128 * 1024), false, "bigger");
  const test::CaughtError size_error = test::expect_error([&] { bigger.restore(state); });
  CHECK(size_error.code == ErrorCode::InvalidConfig);
  CHECK(test::contains(size_error.message, "does not match the snapshot"));
  VirtioBlk read_only(std::make_shared<FakeDisk>(64 * 1024), true, "ro");
  CHECK(test::expect_error([&] { read_only.restore(state); }).code == ErrorCode::InvalidConfig);
}

TEST_CASE("virtio-blk: destroying the transport with requests in flight") {
  auto disk = std::make_shared<FakeDisk>(64 * 1024, [](std::uint64_t) { return 40ms; });
  {
    BlkRig rig(disk, false);
    rig.bring_up();
    for (std::uint16_t slot = 0; slot < 8; ++slot) rig.request(slot, b::kRequestOut, slot, 512);
    rig.kick();
    REQUIRE(eventually([&] { return disk->started >= 1; }));
  }
  CHECK(disk->active == 0);
  const int started = disk->started;
  std::this_thread::sleep_for(100ms);
  CHECK(disk->started == started);
  CHECK(disk.use_count() == 1);  // the workers are gone and hold nothing
}

TEST_CASE("disk I/O workers: cancel, drain, and being destroyed by a completion") {
  SUBCASE("cancel drops queued tasks and waits for running I/O only") {
    b::DiskIoWorkers workers(2);
    std::atomic<int> io_done{0};
    std::atomic<int> completions{0};
    std::atomic<bool> release{false};
    for (int i = 0; i < 6; ++i) {
      workers.submit([&] {
        std::this_thread::sleep_for(50ms);
        ++io_done;
        return b::DiskIoWorkers::Completion([&] {
          while (!release) std::this_thread::sleep_for(1ms);  // a completion stuck on a lock
          ++completions;
        });
      });
    }
    REQUIRE(eventually([&] { return io_done >= 1; }));
    const std::size_t dropped = workers.cancel();  // returns although completions are stuck
    CHECK(dropped >= 2);
    CHECK(io_done + static_cast<int>(dropped) == 6);
    CHECK(completions == 0);
    release = true;
    workers.drain();
    CHECK(workers.pending() == 0);
    CHECK(completions == io_done);
  }
  SUBCASE("the pool's owner is released from one of its completions") {
    // As with the transport, the last reference goes while no one else is
    // inside the pool: here, once submit() has returned.
    auto holder = std::make_unique<b::DiskIoWorkers>(2);
    b::DiskIoWorkers* workers = holder.get();
    std::atomic<bool> submitted{false};
    std::atomic<bool> destroyed{false};
    workers->submit([&] {
      return b::DiskIoWorkers::Completion([&] {
        while (!submitted) std::this_thread::sleep_for(1ms);
        holder.reset();  // joins the other worker, detaches this one
        destroyed = true;
      });
    });
    submitted = true;
    CHECK(eventually([&] { return destroyed.load(); }));
    std::this_thread::sleep_for(20ms);  // let the detached thread leave
  }
}
