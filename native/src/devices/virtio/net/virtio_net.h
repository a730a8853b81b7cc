// virtio-net (virtio 1.2, section 5.1): one receive queue (0) and one transmit
// queue (1), 256 entries each, in front of a net::NetBackend (libslirp today).
//
// Offered: MAC, STATUS (link state in the config space, changes announced by a
// configuration interrupt), MRG_RXBUF (a received frame may span several
// receive chains; num_buffers says how many) and MTU (1500). No checksum or
// segmentation offloads: frames travel whole and checksummed, so the header's
// flags and gso_type are 0 both ways. The header is 12 bytes (VERSION_1).
// With MTU negotiated, received frames above 1518 bytes (1500 + Ethernet
// header + a VLAN tag) are dropped, as 5.1.6.3.2 requires.
//
// Threads and locks:
//  * process_queue / activate / reset / config accesses: the transport calls
//    them with its lock held, on a vCPU thread or the I/O thread.
//  * The backend is touched only on the machine's I/O thread, through
//    `post_to_io`: transmit copies frames out of guest memory under the
//    transport lock, returns the chains, and posts one task per batch that
//    calls send_to_network(). Receive is the FrameSink, which the backend
//    calls on the I/O thread; it takes the transport lock through run_locked.
//  * set_link_up(), link_up() and stats() may be called from any thread.
//
// What a misbehaving driver gets (all counted in stats().guest_errors and
// logged a bounded number of times per activation; the VMM never crashes):
//  * a transmit chain with device-writable buffers, shorter than the header,
//    asking for an offload we did not offer, or carrying a frame outside
//    [14, 65550] bytes: the frame is dropped (tx_dropped) and the chain comes
//    back with used length 0. The queue keeps working.
//  * a receive chain with device-readable buffers or less room than the
//    12-byte header: the chain (and any others gathered for the same frame)
//    comes back with used length 0 and that frame is dropped (rx_dropped).
//  * a structurally broken queue (bad descriptor indices, addresses outside
//    RAM, loops — whatever walk_descriptor_chain() rejects): VirtQueueError,
//    which the transport turns into DEVICE_NEEDS_RESET.
//
// Receive without buffers: frames that arrive while the driver has posted too
// few receive buffers wait in a small backlog (kBacklogFrames frames /
// kBacklogBytes bytes) and are delivered, in order, when the driver adds
// buffers (its notification of queue 0). Beyond that they are dropped, as a
// real NIC with a full ring drops them; TCP recovers. A frame the buffers can
// never hold (too large for one chain without MRG_RXBUF, or for the whole
// ring with it) is dropped and the buffers stay with the driver. The backlog
// is lost on reset and is not part of a snapshot.
//
// Transmit flow control: at most kTxInFlightBytes of copied frames wait for
// the I/O thread. Beyond that the device stops taking transmit chains (the
// guest's ring fills, and its driver stops its queue) until the I/O thread
// has caught up — so a guest cannot make the VMM buffer without bound.
//
// Link state: the guest sees `status` (LINK_UP or not). It starts up, is set
// from backend.link_up() by the I/O task that installs the sink at each
// activation, and changes with set_link_up() in between. So an integrator
// that unplugs the cable sets both (NIC and backend); one that restores a
// snapshot with the cable out restores the backend's link before the
// transport re-activates the device.
//
// Integration:
//   IoExecutor post = [&io](std::function<void()> task) { io.post(std::move(task)); };
//   auto nic = std::make_unique<VirtioNet>(backend, mac, post, log);
//   VirtioNet& nic_ref = *nic;  // for set_link_up / stats / save
//   auto pci = std::make_shared<VirtioPciDevice>(std::move(nic), memory, msi, log);
// Teardown: destroy the device, then stop the I/O thread (which runs what the
// device posted, including the sink's removal), then destroy the backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "devices/virtio/virtio_device.h"
#include "net/mac_address.h"
#include "net/net_backend.h"

namespace nestbox::virtio {

// Runs a task on the machine's I/O thread, in the order posted (FIFO) —
// IoThread::post. The device posts with the transport's lock held (never a
// lock of its own), so the executor must not block waiting for the I/O
// thread. Running the task inline is allowed (tests do; the transport's lock
// is recursive), but then the backend runs under the transport's lock.
using IoExecutor = std::function<void(std::function<void()>)>;

// The device's plain state for snapshots. Frames in flight are not saved: a
// restore loses them as a wire would.
struct VirtioNetState {
  bool link_up = true;
  net::NetStats stats;  // the NIC's own counters (the backend keeps its own)
};

class VirtioNet : public VirtioDevice {
 public:
  using Logger = std::function<void(std::string_view)>;

  static constexpr std::uint16_t kQueueSize = 256;
  static constexpr std::uint16_t kMtu = 1500;
  static constexpr std::size_t kBacklogFrames = 64;
  static constexpr std::size_t kBacklogBytes = 256 * 1024;
  static constexpr std::uint64_t kTxInFlightBytes = 1024 * 1024;

  // `backend` must outlive the device and every task it posts (destroy the
  // backend on, or after stopping, the I/O thread). `post_to_io` must not be
  // empty (NestboxError InvalidConfig); it may drop tasks once the I/O thread
  // has stopped. The link starts up and follows backend.link_up() at each
  // activation; set_link_up() changes it in between.
  VirtioNet(net::NetBackend& backend, net::MacAddress mac, IoExecutor post_to_io, Logger log = {});
  ~VirtioNet() override;
  VirtioNet(const VirtioNet&) = delete;
  VirtioNet& operator=(const VirtioNet&) = delete;

  // VirtioDevice
  [[nodiscard]] std::uint16_t device_type() const override;
  [[nodiscard]] std::uint64_t device_features() const override;
  [[nodiscard]] std::vector<std::uint16_t> queue_max_sizes() const override {
    return {kQueueSize, kQueueSize};
  }
  [[nodiscard]] std::uint32_t config_size() const override;
  void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override;
  // The configuration space is read-only in virtio 1.x (the MAC is changed
  // through the control queue, which we do not offer): writes are ignored.
  void write_config(std::uint32_t offset, std::span<const std::uint8_t> data) override;
  void activate(const VirtioDeviceContext& context) override;
  void process_queue(std::uint16_t queue) override;
  void reset() override;

  // Cable plugged in or not, as the guest sees it (any thread). While down,
  // frames are dropped both ways. A change raises a configuration
  // interrupt when the device is active. Does not touch the backend: to
  // unplug the whole link, also post backend.set_link_up() to the I/O thread.
  // After a backend restore that returned LinkReset, flap it: false, then
  // true a second or two later — a guest reads the status once per config
  // interrupt, and one that reads only after both sees no flap.
  void set_link_up(bool up);
  [[nodiscard]] bool link_up() const;
  [[nodiscard]] net::NetStats stats() const;  // any thread

  [[nodiscard]] net::MacAddress mac() const { return mac_; }

  [[nodiscard]] VirtioNetState save() const;
  // Before the transport's restore (which re-activates the device). Raises
  // no interrupt.
  void restore(const VirtioNetState& state);

 private:
  struct Shared;  // what the FrameSink and I/O tasks may still hold after we are gone

  const net::MacAddress mac_;
  std::shared_ptr<Shared> shared_;
  // True from activate() until the reset() that posts the sink's removal.
  bool sink_installed_ = false;
};

}  // namespace nestbox::virtio
