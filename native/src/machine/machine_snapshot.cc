// Machine::save_snapshot and the restore half of the constructor: the
// machine-state file (snapshot/state_file.h) and the RAM file
// (snapshot/ram_file.h) of a snapshot.
//
// State file sections, besides the core ones (RAM layout, vCPUs, KVM VM):
//   DEVS  every device's record (Board::save_state), by name
//   VRAM  the display's video memory, non-zero pages only (absent headless)
// RAM is not in the state file: revert maps the RAM file copy-on-write, so
// restoring costs the same whatever the guest's memory size.
#include <algorithm>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "arch/x86/memory_layout.h"
#include "block/disk_image.h"
#include "machine/machine.h"
#include "snapshot/byte_codec.h"
#include "snapshot/core_sections.h"
#include "snapshot/kvm_state_codec.h"
#include "snapshot/ram_file.h"
#include "snapshot/snapshot_error.h"
#include "snapshot/state_file.h"

namespace nestbox {

namespace {

using snapshot::ByteReader;
using snapshot::ByteWriter;
using snapshot::SnapshotError;
using snapshot::SnapshotProblem;

constexpr std::uint32_t kDevicesSectionTag = snapshot::section_tag("DEVS");
constexpr std::uint32_t kDevicesSectionVersion = 1;
constexpr std::uint32_t kVramSectionTag = snapshot::section_tag("VRAM");
constexpr std::uint32_t kVramSectionVersion = 1;

constexpr std::uint32_t kMaxDeviceRecords = 256;
constexpr std::uint32_t kMaxDeviceNameLength = 64;
constexpr std::uint64_t kMaxDeviceRecordBytes = 64ull << 20;
constexpr std::uint64_t kMaxVramBytes = 256ull << 20;  // the display's limit
constexpr std::uint64_t kVramPageSize = 4096;

std::vector<snapshot::SectionSpec> machine_section_specs() {
  std::vector<snapshot::SectionSpec> specs = snapshot::core_section_specs();
  specs.push_back({kDevicesSectionTag, "device state", true, 1, kDevicesSectionVersion});
  specs.push_back({kVramSectionTag, "video memory", false, 1, kVramSectionVersion});
  return specs;
}

std::vector<std::uint8_t> encode_devices(std::span<const DeviceStateRecord> records) {
  ByteWriter out;
  out.u32(static_cast<std::uint32_t>(records.size()));
  for (const DeviceStateRecord& record : records) {
    out.string(record.name);
    out.blob(record.bytes);
  }
  return out.take();
}

std::vector<DeviceStateRecord> decode_devices(ByteReader in) {
  // Each record is at least a 4-byte name length and an 8-byte blob length.
  const std::uint32_t count = in.count(kMaxDeviceRecords, 12);
  std::vector<DeviceStateRecord> records(count);
  for (DeviceStateRecord& record : records) {
    record.name = in.string(kMaxDeviceNameLength);
    record.bytes = in.blob(kMaxDeviceRecordBytes);
  }
  in.expect_end();
  return records;
}

// Only pages holding a non-zero byte: a text console uses a sliver of 16 MiB.
std::vector<std::uint8_t> encode_vram(std::span<const std::uint8_t> vram) {
  ByteWriter out;
  out.u64(vram.size());
  std::vector<std::uint32_t> pages;
  for (std::uint64_t offset = 0; offset + kVramPageSize <= vram.size(); offset += kVramPageSize) {
    if (!snapshot::is_zero_page(vram.data() + offset)) {
      pages.push_back(static_cast<std::uint32_t>(offset / kVramPageSize));
    }
  }
  out.u32(static_cast<std::uint32_t>(pages.size()));
  for (const std::uint32_t page : pages) {
    out.u32(page);
    out.raw(vram.subspan(std::uint64_t{page} * kVramPageSize, kVramPageSize));
  }
  return out.take();
}

std::vector<std::uint8_t> decode_vram(ByteReader in) {
  const std::uint64_t size = in.u64();
  if (size == 0 || size > kMaxVramBytes || size % kVramPageSize != 0) {
    in.fail("video memory of " + std::to_string(size) + " bytes");
  }
  const std::uint64_t page_count = size / kVramPageSize;
  const std::uint32_t stored = in.count(static_cast<std::uint32_t>(page_count), 4 + kVramPageSize);
  std::vector<std::uint8_t> vram(size);
  std::uint64_t next_allowed = 0;  // pages are stored in ascending order, once each
  for (std::uint32_t i = 0; i < stored; ++i) {
    const std::uint32_t page = in.u32();
    if (page < next_allowed || page >= page_count) {
      in.fail("video memory page " + std::to_string(page) + " out of order or out of range");
    }
    next_allowed = std::uint64_t{page} + 1;
    const std::span<const std::uint8_t> bytes = in.raw(kVramPageSize);
    std::copy(bytes.begin(), bytes.end(), vram.begin() + static_cast<std::ptrdiff_t>(page * kVramPageSize));
  }
  in.expect_end();
  return vram;
}

bool same_regions(std::span<const GuestRamRegion> a, std::span<const GuestRamRegion> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const GuestRamRegion& x, const GuestRamRegion& y) {
                      return x.guest_address == y.guest_address && x.size == y.size;
                    });
}

std::uint64_t total_size(std::span<const GuestRamRegion> regions) {
  std::uint64_t total = 0;
  for (const GuestRamRegion& region : regions) total += region.size;
  return total;
}

}  // namespace

SnapshotDescription describe_snapshot(const SnapshotFiles& files) {
  const std::vector<snapshot::SectionSpec> specs = machine_section_specs();
  const snapshot::StateFile file = snapshot::StateFile::read(files.state_path, specs);
  const snapshot::RamLayout layout = snapshot::decode_ram_section(file.reader(snapshot::kRamSectionTag));
  SnapshotDescription description;
  description.format_version = file.format_version();
  description.vcpus = static_cast<std::uint32_t>(
      snapshot::decode_vcpu_section(file.reader(snapshot::kVcpuSectionTag)).size());
  (void)snapshot::decode_kvm_vm_section(file.reader(snapshot::kKvmVmSectionTag));
  for (DeviceStateRecord& record : decode_devices(file.reader(kDevicesSectionTag))) {
    description.devices.push_back(std::move(record.name));
  }
  if (file.has(kVramSectionTag)) description.vram_bytes = decode_vram(file.reader(kVramSectionTag)).size();
  description.ram_bytes = layout.file_size;
  // Mapping checks the RAM file's size against the layout; unmapped at once.
  (void)snapshot::map_ram_file(layout, files.ram_path);
  return description;
}

Machine::LoadedSnapshot Machine::load_snapshot(const SnapshotSource& source) const {
  const std::vector<snapshot::SectionSpec> specs = machine_section_specs();
  const snapshot::StateFile file = snapshot::StateFile::read(source.state_path, specs);
  const snapshot::RamLayout layout = snapshot::decode_ram_section(file.reader(snapshot::kRamSectionTag));
  const std::vector<GuestRamRegion> expected =
      x86::layout::guest_ram_regions(config_.memory_mib << 20);
  if (!same_regions(layout.regions, expected)) {
    throw SnapshotError(SnapshotProblem::Mismatch,
                        source.state_path + ": the snapshot was taken with " +
                            std::to_string(total_size(layout.regions) >> 20) +
                            " MiB of memory and the VM now has " +
                            std::to_string(config_.memory_mib) + " MiB");
  }
  LoadedSnapshot loaded;
  BoardState& state = loaded.board;
  state.vcpus = snapshot::decode_vcpu_section(file.reader(snapshot::kVcpuSectionTag));
  state.vm = snapshot::decode_kvm_vm_section(file.reader(snapshot::kKvmVmSectionTag));
  state.devices = decode_devices(file.reader(kDevicesSectionTag));
  if (file.has(kVramSectionTag)) state.vram = decode_vram(file.reader(kVramSectionTag));
  if (state.vcpus.size() != config_.cpus) {
    throw SnapshotError(SnapshotProblem::Mismatch,
                        source.state_path + ": the snapshot was taken with " +
                            std::to_string(state.vcpus.size()) + " vCPUs and the VM now has " +
                            std::to_string(config_.cpus));
  }
  if (!source.ram_path.empty()) loaded.memory.emplace(snapshot::map_ram_file(layout, source.ram_path));
  return loaded;
}

void Machine::restore_snapshot(const SnapshotSource& source, const std::vector<DiskConfig>& disks) {
  {
    const std::lock_guard lock(state_mutex_);
    if ((state_ != MachineState::Running && state_ != MachineState::Paused) || finishing_ ||
        closed_) {
      throw NestboxError(ErrorCode::InvalidState,
                         "the machine is " + std::string(machine_state_name(state_)) +
                             "; only a running or paused machine can continue a snapshot in place");
    }
  }
  if (disks.size() != config_.disks.size()) {
    throw SnapshotError(SnapshotProblem::Mismatch,
                        "the snapshot continues with " + std::to_string(disks.size()) +
                            " disks and the VM has " + std::to_string(config_.disks.size()));
  }
  // Everything that can fail for a bad snapshot or disk happens here, before
  // the running board is touched.
  LoadedSnapshot snapshot = load_snapshot(source);
  std::vector<BoardDisk> opened = open_disks(disks);
  for (std::size_t i = 0; i < opened.size(); ++i) {
    if (opened[i].image->virtual_size() != peripherals_.disks[i].image->virtual_size()) {
      throw SnapshotError(SnapshotProblem::Mismatch,
                          disks[i].path + " is " + std::to_string(opened[i].image->virtual_size()) +
                              " bytes; the VM's disk " + std::to_string(i) + " is " +
                              std::to_string(peripherals_.disks[i].image->virtual_size()));
    }
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  io_.post([this, &snapshot, &opened, &disks, done] {
    try {
      restore_snapshot_on_io_thread(snapshot, opened);
      config_.disks = disks;  // what a reboot opens from now on
      done->set_value();
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  });
  try {
    finished.get();
  } catch (const std::future_error&) {
    throw NestboxError(ErrorCode::InvalidState, "the machine closed before the snapshot was restored");
  }
}

void Machine::restore_snapshot_on_io_thread(LoadedSnapshot& snapshot, std::vector<BoardDisk>& disks) {
  bool was_paused = false;
  {
    const std::lock_guard lock(state_mutex_);
    if ((state_ != MachineState::Running && state_ != MachineState::Paused) || finishing_) {
      throw NestboxError(ErrorCode::InvalidState, "the machine stopped before the snapshot was restored");
    }
    was_paused = state_ == MachineState::Paused;
  }
  // As a reboot does: the old board goes whole (its late reports are ignored
  // by generation), then a new one is built on the snapshot.
  std::unique_ptr<Board> old_board = take_board();
  old_board->request_stop();
  old_board->join();
  connect_board_devices(nullptr);
  old_board->detach_io(io_);
  old_board.reset();
  if (network_) network_->set_frame_sink({});
  for (BoardDisk& disk : peripherals_.disks) {
    try {
      disk.image->close();
    } catch (const std::exception& error) {
      events_.on_log(std::string("snapshot: closing ") + disk.image->path() + ": " + error.what());
    }
  }
  peripherals_.disks = std::move(disks);
  if (snapshot.memory) {
    memory_.reset();
    memory_.emplace(std::move(*snapshot.memory));
  }
  std::unique_ptr<Board> board;
  try {
    board = build_board(BoardBoot::Snapshot);
    board->attach_io(io_);
    connect_board_devices(board.get());
    board->restore_state(snapshot.board);
  } catch (const std::exception& error) {
    // The old board is gone: nothing left to run.
    if (board) {
      connect_board_devices(nullptr);
      board->detach_io(io_);
    }
    board.reset();
    finish(kAnyBoot, MachineState::Error, stop_reason::kVmmFailure,
           MachineErrorReport{std::string("restoring the snapshot failed: ") + error.what(),
                              std::nullopt});
    throw;
  }
  const std::lock_guard lock(state_mutex_);
  if (finishing_) return;
  booted_at_ = std::chrono::steady_clock::now();
  quick_triple_faults_ = 0;
  const std::lock_guard board_lock(board_mutex_);
  board_ = std::move(board);
  if (was_paused || pausing_) board_->request_pause();  // the vCPUs park before running
  board_->start();
}

SnapshotSaveResult Machine::save_snapshot(const SnapshotFiles& files,
                                          const snapshot::RamFileProgress& progress) {
  {
    const std::lock_guard lock(state_mutex_);
    if (state_ != MachineState::Paused || pausing_ || finishing_ || closed_) {
      throw NestboxError(ErrorCode::InvalidState,
                         "the machine is " + std::string(machine_state_name(state_)) +
                             "; pause it before saving its state");
    }
  }
  // The I/O thread runs device work (network receive, disk completions, the
  // display tracker): doing the save there means none of it runs meanwhile.
  auto result = std::make_shared<std::promise<SnapshotSaveResult>>();
  std::future<SnapshotSaveResult> done = result->get_future();
  io_.post([this, files, progress, result] {
    try {
      result->set_value(save_snapshot_on_io_thread(files, progress));
    } catch (...) {
      result->set_exception(std::current_exception());
    }
  });
  try {
    return done.get();
  } catch (const std::future_error&) {
    // The task was dropped: the machine closed first.
    throw NestboxError(ErrorCode::InvalidState, "the machine closed before its state was saved");
  }
}

SnapshotSaveResult Machine::save_snapshot_on_io_thread(const SnapshotFiles& files,
                                                       const snapshot::RamFileProgress& progress) {
  BoardState state;
  {
    const std::lock_guard lock(state_mutex_);
    if (state_ != MachineState::Paused || finishing_) {
      throw NestboxError(ErrorCode::InvalidState,
                         "the machine is " + std::string(machine_state_name(state_)) +
                             "; pause it before saving its state");
    }
    const std::lock_guard board_lock(board_mutex_);
    state = board_->save_state();
  }
  snapshot::StateFileWriter writer;
  writer.add(snapshot::kRamSectionTag, snapshot::kRamSectionVersion,
             snapshot::encode_ram_section(memory_->regions()));
  writer.add(snapshot::kVcpuSectionTag, snapshot::kVcpuSectionVersion,
             snapshot::encode_vcpu_section(state.vcpus));
  writer.add(snapshot::kKvmVmSectionTag, snapshot::kKvmVmSectionVersion,
             snapshot::encode_kvm_vm_section(state.vm));
  writer.add(kDevicesSectionTag, kDevicesSectionVersion, encode_devices(state.devices));
  if (!state.vram.empty()) {
    writer.add(kVramSectionTag, kVramSectionVersion, encode_vram(state.vram));
  }
  // The disks as the snapshot sees them are durable before it exists.
  for (const BoardDisk& disk : peripherals_.disks) disk.image->flush();
  SnapshotSaveResult result;
  result.ram_size = total_size(memory_->regions());
  // RAM first: a state file never exists without the RAM it describes.
  result.ram_bytes_written = snapshot::write_ram_file(*memory_, files.ram_path, progress);
  result.state_bytes = writer.write(files.state_path);
  return result;
}

}  // namespace nestbox
