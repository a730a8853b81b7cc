// virtio-blk (virtio 1.2, section 5.2): one request queue of 256 entries in
// front of a block::DiskImage. Requests: IN, OUT, FLUSH, GET_ID, DISCARD,
// WRITE_ZEROES; anything else is UNSUPP. blk_request.h says how each request
// is validated and when the answer is IOERR, UNSUPP or DEVICE_NEEDS_RESET.
//
// Features offered: SIZE_MAX, SEG_MAX, BLK_SIZE (512), FLUSH; RO on a
// read-only disk, DISCARD and WRITE_ZEROES on a writable one. No MQ, no
// CONFIG_WCE (the cache is always write-back: FLUSH makes writes durable), no
// TOPOLOGY or GEOMETRY. A read-only disk is one the VM config marks read-only
// or whose image was opened read-only; Linux sees RO and sets the disk
// read-only, and a write that still arrives gets IOERR.
//
// Threading. process_queue() runs under the transport lock on a vCPU or the
// I/O thread; it only pops chains and hands them to two disk workers
// (DiskIoWorkers). A worker reads/writes guest memory and the image directly,
// writes the status byte, and then returns the request through
// context.run_locked; completions that pile up meanwhile go back in one batch
// with one interrupt decision. reset() (also under the transport lock) drops
// requests no worker has started and waits for those doing I/O, but never for
// a completion: a completion may be waiting for the lock reset()'s caller
// holds, and run_locked refuses it once reset() returns. So after reset()
// nothing touches guest memory or the image until the next activation.
//
// Snapshots: VirtioBlkState is plain (the disk's identity and statistics).
// Requests in flight are not part of it. The machine pauses the vCPUs, calls
// drain() (without the transport lock) so every popped request is back in
// the used ring, then saves the transport and this device. restore() checks
// that the disk has the snapshot's size and read-only mode.
//
// Integration: std::make_shared<VirtioPciDevice>(std::make_unique<VirtioBlk>(
//                  image, read_only, serial, log), memory, msi_sink, log)
// The image is shared: the machine keeps it across reboots and closes it
// (close() reports flush errors) after the device is gone.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "block/disk_image.h"
#include "devices/virtio/blk/blk_request.h"
#include "devices/virtio/blk/disk_io_workers.h"
#include "devices/virtio/virtio_device.h"

namespace nestbox::virtio {

struct VirtioBlkState {
  // The disk the snapshot was taken with; restore() refuses a different one.
  std::uint64_t capacity_sectors = 0;
  bool read_only = false;
  // Statistics only.
  std::uint64_t read_requests = 0;
  std::uint64_t write_requests = 0;
  std::uint64_t flush_requests = 0;
  std::uint64_t discard_requests = 0;  // DISCARD and WRITE_ZEROES
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t failed_requests = 0;  // IOERR or UNSUPP
};

class VirtioBlk : public VirtioDevice {
 public:
  using Logger = std::function<void(std::string_view)>;

  static constexpr std::uint16_t kQueueSize = 256;
  static constexpr unsigned kWorkerThreads = 2;
  // Log lines for failed requests over the device's life: a guest that fails
  // every request must not flood the log.
  static constexpr unsigned kMaxLoggedErrors = 100;

  // `image` must not be null (NestboxError InvalidConfig). `serial` is the
  // GET_ID answer: its first 20 bytes, zero-padded. The logger is called from
  // the disk workers (one call at a time), never with the transport lock held.
  VirtioBlk(std::shared_ptr<block::DiskImage> image, bool read_only, std::string serial,
            Logger log = {});
  // Joins the workers (after the transport's reset, nothing is in flight).
  ~VirtioBlk() override;
  VirtioBlk(const VirtioBlk&) = delete;
  VirtioBlk& operator=(const VirtioBlk&) = delete;

  [[nodiscard]] std::uint16_t device_type() const override;
  [[nodiscard]] std::uint64_t device_features() const override;
  [[nodiscard]] std::vector<std::uint16_t> queue_max_sizes() const override { return {kQueueSize}; }
  [[nodiscard]] std::uint32_t config_size() const override;
  void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override;
  // The configuration space is read-only (no CONFIG_WCE): writes are dropped.

  void activate(const VirtioDeviceContext& context) override;
  void process_queue(std::uint16_t queue) override;
  void reset() override;

  // Waits until every request popped so far has been returned to the used
  // ring (or dropped by a reset). Call without the transport lock, after
  // stopping whatever notifies the queue (vCPUs paused, ioeventfds quiet).
  void drain();

  [[nodiscard]] bool read_only() const;
  [[nodiscard]] std::uint64_t capacity_sectors() const;

  [[nodiscard]] VirtioBlkState save() const;
  // Throws NestboxError (InvalidConfig) if the snapshot was taken with a disk
  // of another size or read-only mode. Call before the transport's restore.
  void restore(const VirtioBlkState& state);

 private:
  struct Backend;     // what the workers use: image, id, statistics, log
  struct Activation;  // one activation's context and its unpublished completions

  static blk::DiskIoWorkers::Completion run_request(const std::shared_ptr<Backend>& backend,
                                               const std::shared_ptr<Activation>& activation,
                                               const blk::BlkRequest& request);
  static void publish(Activation& activation);

  std::shared_ptr<Backend> backend_;
  std::array<std::uint8_t, blk::kConfigSize> config_{};
  std::shared_ptr<Activation> activation_;  // null while not activated
  // Last: destroyed (joined) first, while everything above is still alive.
  blk::DiskIoWorkers workers_{kWorkerThreads};
};

}  // namespace nestbox::virtio
