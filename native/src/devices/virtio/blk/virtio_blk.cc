#include "devices/virtio/blk/virtio_blk.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/nestbox_error.h"
#include "devices/virtio/blk/virtio_blk_abi.h"
#include "devices/virtio/queue/virtq_abi.h"
#include "devices/virtio/virtio_abi.h"

namespace nestbox::virtio {

namespace {

template <typename T>
void put_le(std::span<std::uint8_t> config, std::uint32_t offset, T value) {
  // Little-endian host (virtq_abi.h asserts it): the bytes as they are.
  std::memcpy(config.data() + offset, &value, sizeof value);
}

std::array<std::uint8_t, blk::kIdBytes> make_id(const std::string& serial) {
  std::array<std::uint8_t, blk::kIdBytes> id{};
  std::memcpy(id.data(), serial.data(), std::min<std::size_t>(serial.size(), id.size()));
  return id;
}

}  // namespace

// Shared with the worker tasks, so a task never needs the VirtioBlk itself
// (see DiskIoWorkers on being destroyed from a worker).
struct VirtioBlk::Backend {
  Backend(std::shared_ptr<block::DiskImage> disk, bool ro, const std::string& serial, Logger logger)
      : image(std::move(disk)),
        capacity_sectors(image->virtual_size() / blk::kSectorSize),
        read_only(ro || image->read_only()),
        id(make_id(serial)),
        log(std::move(logger)) {}

  void record(const blk::BlkOutcome& outcome) {
    const std::lock_guard lock(mutex);
    if (outcome.status != blk::kStatusOk) {
      ++stats.failed_requests;
    } else {
      switch (outcome.type) {
        case blk::kRequestIn:
          ++stats.read_requests;
          stats.bytes_read += outcome.disk_bytes;
          break;
        case blk::kRequestOut:
          ++stats.write_requests;
          stats.bytes_written += outcome.disk_bytes;
          break;
        case blk::kRequestFlush: ++stats.flush_requests; break;
        case blk::kRequestDiscard:
        case blk::kRequestWriteZeroes: ++stats.discard_requests; break;
        default: break;
      }
    }
    if (outcome.error.empty() || !log || logged > kMaxLoggedErrors) return;
    // Under the mutex: the logger sees one call at a time from our workers.
    if (logged++ == kMaxLoggedErrors) {
      log("virtio-blk: too many failed requests, no longer logging them");
      return;
    }
    log("virtio-blk: request failed: " + outcome.error);
  }

  const std::shared_ptr<block::DiskImage> image;
  const std::uint64_t capacity_sectors;
  const bool read_only;
  const std::array<std::uint8_t, blk::kIdBytes> id;
  const Logger log;

  mutable std::mutex mutex;
  VirtioBlkState stats;  // counters only; the identity fields are filled by save()
  unsigned logged = 0;
};

struct VirtioBlk::Activation {
  explicit Activation(const VirtioDeviceContext& activated) : context(activated) {}

  const VirtioDeviceContext context;
  // Requests whose status is written, waiting for a completion to take the
  // transport lock and return them all. Lock order: transport, then this.
  std::mutex mutex;
  std::vector<VirtqUsedElement> done;
};

VirtioBlk::VirtioBlk(std::shared_ptr<block::DiskImage> image, bool read_only, std::string serial,
                     Logger log) {
  if (image == nullptr) {
    throw NestboxError(ErrorCode::InvalidConfig, "virtio-blk needs a disk image");
  }
  backend_ = std::make_shared<Backend>(std::move(image), read_only, serial, std::move(log));
  const std::uint64_t size = backend_->image->virtual_size();
  if (size % blk::kSectorSize != 0 && backend_->log) {
    backend_->log("virtio-blk: the disk's size is not a multiple of 512 bytes; the guest does not see "
                  "the last " +
                  std::to_string(size % blk::kSectorSize) + " bytes");
  }

  put_le<std::uint64_t>(config_, blk::kConfigCapacity, backend_->capacity_sectors);
  put_le<std::uint32_t>(config_, blk::kConfigSizeMax, blk::kSizeMax);
  put_le<std::uint32_t>(config_, blk::kConfigSegMax, blk::kSegMax);
  put_le<std::uint32_t>(config_, blk::kConfigBlkSize, static_cast<std::uint32_t>(blk::kSectorSize));
  put_le<std::uint16_t>(config_, blk::kConfigNumQueues, 1);
  if (!backend_->read_only) {
    put_le<std::uint32_t>(config_, blk::kConfigMaxDiscardSectors, blk::kMaxDiscardSectors);
    put_le<std::uint32_t>(config_, blk::kConfigMaxDiscardSeg, blk::kMaxDiscardSegments);
    put_le<std::uint32_t>(config_, blk::kConfigDiscardSectorAlignment, blk::kDiscardSectorAlignment);
    put_le<std::uint32_t>(config_, blk::kConfigMaxWriteZeroesSectors, blk::kMaxWriteZeroesSectors);
    put_le<std::uint32_t>(config_, blk::kConfigMaxWriteZeroesSeg, blk::kMaxWriteZeroesSegments);
    // The image's write_zeroes may punch holes; say so.
    put_le<std::uint8_t>(config_, blk::kConfigWriteZeroesMayUnmap, 1);
  }
}

// workers_ is the last member, so it is destroyed (and joined) first.
VirtioBlk::~VirtioBlk() = default;

std::uint16_t VirtioBlk::device_type() const { return kDeviceTypeBlock; }

std::uint64_t VirtioBlk::device_features() const {
  std::uint64_t features =
      blk::kFeatureSizeMax | blk::kFeatureSegMax | blk::kFeatureBlkSize | blk::kFeatureFlush;
  if (backend_->read_only) {
    features |= blk::kFeatureReadOnly;
  } else {
    features |= blk::kFeatureDiscard | blk::kFeatureWriteZeroes;
  }
  return features;
}

std::uint32_t VirtioBlk::config_size() const { return blk::kConfigSize; }

void VirtioBlk::read_config(std::uint32_t offset, std::span<std::uint8_t> data) {
  // The transport keeps accesses inside config_size(); clamp anyway.
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::uint64_t at = std::uint64_t{offset} + i;
    data[i] = at < config_.size() ? config_[at] : 0;
  }
}

bool VirtioBlk::read_only() const { return backend_->read_only; }

std::uint64_t VirtioBlk::capacity_sectors() const { return backend_->capacity_sectors; }

void VirtioBlk::activate(const VirtioDeviceContext& context) {
  activation_ = std::make_shared<Activation>(context);
}

void VirtioBlk::process_queue(std::uint16_t queue) {
  if (activation_ == nullptr || queue != 0 || activation_->context.queues.empty()) return;
  const VirtioDeviceContext& context = activation_->context;
  VirtQueue& requests = context.queues[0];
  // Until the ring is empty (stopping early would leave the event index
  // unpublished). Only bookkeeping happens here, under the transport lock;
  // reading the header and all I/O happen on a worker.
  while (std::optional<DescriptorChain> chain = requests.pop(*context.memory)) {
    // Throws VirtQueueError for a chain with no status byte: NEEDS_RESET.
    blk::BlkRequest request = blk::make_request(std::move(*chain));
    workers_.submit([backend = backend_, activation = activation_, request = std::move(request)] {
      return run_request(backend, activation, request);
    });
  }
}

blk::DiskIoWorkers::Completion VirtioBlk::run_request(const std::shared_ptr<Backend>& backend,
                                                 const std::shared_ptr<Activation>& activation,
                                                 const blk::BlkRequest& request) {
  const GuestMemory& memory = *activation->context.memory;
  const blk::BlkDisk disk{*backend->image, backend->capacity_sectors, backend->read_only, backend->id};
  blk::BlkOutcome outcome = blk::execute_request(request, memory, disk);
  try {
    memory.write_object<std::uint8_t>(request.status_address, outcome.status);
  } catch (const std::exception& error) {
    // Cannot happen (the walker checked the buffer is in RAM); if it did, the
    // driver still gets its descriptor back.
    outcome.status = blk::kStatusIoErr;
    outcome.error = std::string("status byte not written: ") + error.what();
  }
  backend->record(outcome);
  {
    const std::lock_guard lock(activation->mutex);
    activation->done.push_back(VirtqUsedElement{request.head, outcome.data_written + 1});
  }
  // Runs after the pool stops counting this request as doing I/O, so a
  // reset() holding the transport lock never waits for it.
  return [activation] {
    if (activation->context.run_locked) activation->context.run_locked([&] { publish(*activation); });
  };
}

void VirtioBlk::publish(Activation& activation) {
  // Under the transport lock (run_locked), and only while this activation is
  // current, so the queue and interrupt are the live ones.
  std::vector<VirtqUsedElement> batch;
  {
    const std::lock_guard lock(activation.mutex);
    batch.swap(activation.done);
  }
  if (batch.empty()) return;  // an earlier completion returned ours with its own
  const GuestMemory& memory = *activation.context.memory;
  VirtQueue& queue = activation.context.queues[0];
  for (const VirtqUsedElement& element : batch) {
    queue.add_used(memory, static_cast<std::uint16_t>(element.id), element.length);
  }
  if (queue.needs_notification(memory)) activation.context.interrupt->signal_used_queue(0);
}

void VirtioBlk::reset() {
  // Queued requests are dropped; requests doing I/O finish it (their
  // completions will find run_locked refusing). Afterwards no worker touches
  // guest memory or the image for the old activation.
  workers_.cancel();
  activation_.reset();
}

void VirtioBlk::drain() { workers_.drain(); }

VirtioBlkState VirtioBlk::save() const {
  const std::lock_guard lock(backend_->mutex);
  VirtioBlkState state = backend_->stats;
  state.capacity_sectors = backend_->capacity_sectors;
  state.read_only = backend_->read_only;
  return state;
}

void VirtioBlk::restore(const VirtioBlkState& state) {
  if (state.capacity_sectors != backend_->capacity_sectors || state.read_only != backend_->read_only) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "the disk " + backend_->image->path() + " does not match the snapshot (" +
                           std::to_string(backend_->capacity_sectors) + " sectors" +
                           (backend_->read_only ? ", read-only" : "") + " now, " +
                           std::to_string(state.capacity_sectors) + " sectors" +
                           (state.read_only ? ", read-only" : "") + " then)");
  }
  const std::lock_guard lock(backend_->mutex);
  backend_->stats = state;
}

}  // namespace nestbox::virtio
