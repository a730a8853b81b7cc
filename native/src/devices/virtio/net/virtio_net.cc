#include "devices/virtio/net/virtio_net.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/nestbox_error.h"
#include "devices/virtio/net/virtio_net_abi.h"
#include "devices/virtio/queue/descriptor_chain.h"
#include "devices/virtio/virtio_abi.h"

namespace nestbox::virtio {

namespace a = net_abi;

namespace {

constexpr std::uint64_t kOfferedFeatures =
    a::kFeatureMac | a::kFeatureStatus | a::kFeatureMrgRxbuf | a::kFeatureMtu;

// A driver stuck in a loop of bad requests must not flood the VM's log.
constexpr unsigned kLoggedErrorsPerActivation = 8;

// Copies bytes [offset, offset + out.size()) of the chain formed by `buffers`
// into `out`; the caller has checked that the chain is long enough.
void read_from_buffers(const GuestMemory& memory, const std::vector<GuestBuffer>& buffers,
                       std::uint64_t offset, std::span<std::uint8_t> out) {
  std::size_t done = 0;
  for (const GuestBuffer& buffer : buffers) {
    if (done == out.size()) break;
    if (offset >= buffer.length) {
      offset -= buffer.length;
      continue;
    }
    const std::uint64_t length = std::min<std::uint64_t>(buffer.length - offset, out.size() - done);
    const std::span<std::uint8_t> source = memory.span(buffer.address + offset, length);
    std::memcpy(out.data() + done, source.data(), length);
    done += length;
    offset = 0;
  }
}

enum class RxOutcome {
  Delivered,  // in the used ring
  NoBuffers,  // not enough posted yet; the driver keeps what we looked at
  Dropped,    // can never be delivered (or the driver's buffers were malformed)
};

}  // namespace

// Everything the receive path and the I/O tasks need. The FrameSink holds it
// weakly and the I/O tasks strongly, so either may outlive the VirtioNet
// without touching freed memory; guest memory, the queues and the interrupt
// (which belong to the transport) are only touched while `active` under the
// transport's lock, i.e. inside a run_locked that the transport still honours.
struct VirtioNet::Shared : std::enable_shared_from_this<VirtioNet::Shared> {
  Shared(net::NetBackend& backend_in, IoExecutor post, Logger logger)
      : backend(backend_in), post_to_io(std::move(post)), log(std::move(logger)) {}

  struct Counters {
    std::atomic<std::uint64_t> tx_frames{0};
    std::atomic<std::uint64_t> tx_bytes{0};
    std::atomic<std::uint64_t> tx_dropped{0};
    std::atomic<std::uint64_t> rx_frames{0};
    std::atomic<std::uint64_t> rx_bytes{0};
    std::atomic<std::uint64_t> rx_dropped{0};
    std::atomic<std::uint64_t> guest_errors{0};

    [[nodiscard]] net::NetStats load() const {
      return net::NetStats{tx_frames.load(), tx_bytes.load(), tx_dropped.load(), rx_frames.load(),
                           rx_bytes.load(),  rx_dropped.load(), guest_errors.load()};
    }
    void store(const net::NetStats& stats) {
      tx_frames = stats.tx_frames;
      tx_bytes = stats.tx_bytes;
      tx_dropped = stats.tx_dropped;
      rx_frames = stats.rx_frames;
      rx_bytes = stats.rx_bytes;
      rx_dropped = stats.rx_dropped;
      guest_errors = stats.guest_errors;
    }
  };

  // ---- fixed at construction ----
  net::NetBackend& backend;
  const IoExecutor post_to_io;
  const Logger log;

  // ---- any thread ----
  std::atomic<bool> link_up{true};
  Counters counters;
  // Bytes posted to the I/O thread and not yet sent; see kTxInFlightBytes.
  std::atomic<std::uint64_t> tx_in_flight{0};
  // The transmit path stopped taking chains because of tx_in_flight; whoever
  // clears it must make the transmit queue run again.
  std::atomic<bool> tx_stalled{false};

  // The current activation's run_locked, for threads that are not handed one
  // (set_link_up callers, transmit completions). Empty while inactive.
  std::mutex run_locked_mutex;
  RunLocked current_run_locked;

  // ---- under the transport's lock (device methods and run_locked work) ----
  bool active = false;
  std::uint64_t activation = 0;  // bumped by each activate(); sinks carry theirs
  VirtioDeviceContext context;
  bool mergeable = false;        // VIRTIO_NET_F_MRG_RXBUF negotiated
  bool mtu_negotiated = false;   // VIRTIO_NET_F_MTU negotiated: enforce it on receive
  std::deque<std::vector<std::uint8_t>> backlog;
  std::size_t backlog_bytes = 0;
  unsigned errors_logged = 0;

  RunLocked run_locked_copy() {
    const std::lock_guard lock(run_locked_mutex);
    return current_run_locked;
  }

  void activate(const VirtioDeviceContext& new_context) {
    context = new_context;
    active = true;
    ++activation;
    mergeable = (context.features & a::kFeatureMrgRxbuf) != 0;
    mtu_negotiated = (context.features & a::kFeatureMtu) != 0;
    errors_logged = 0;
    const std::lock_guard lock(run_locked_mutex);
    current_run_locked = context.run_locked;
  }

  void deactivate() {
    active = false;
    context = VirtioDeviceContext{};
    drop_backlog();
    // A completion still on its way finds nothing to resume; the next
    // activation runs the transmit queue anyway.
    tx_stalled = false;
    const std::lock_guard lock(run_locked_mutex);
    current_run_locked = nullptr;
  }

  void guest_error(const std::string& message) {
    ++counters.guest_errors;
    if (!log || errors_logged > kLoggedErrorsPerActivation) return;
    ++errors_logged;
    if (errors_logged <= kLoggedErrorsPerActivation) {
      log("virtio-net: " + message);
    } else {
      log("virtio-net: further driver errors are counted, not logged, until the device is reset");
    }
  }

  // Any thread.
  void change_link(bool up) {
    if (link_up.exchange(up) == up) return;
    const RunLocked run_locked = run_locked_copy();
    if (!run_locked) return;  // inactive: the driver reads the status when it starts
    run_locked([this] {
      if (!active) return;
      if (!link_up) drop_backlog();  // an unplugged cable carries nothing
      context.interrupt->signal_config_change();
    });
  }

  // ---- receive (transport lock held) ----

  void drop_backlog() {
    counters.rx_dropped += backlog.size();
    backlog.clear();
    backlog_bytes = 0;
  }

  [[nodiscard]] bool receivable_size(std::size_t size) const {
    // With MTU negotiated the device must not pass larger frames (5.1.6.3.2);
    // a VLAN tag on top of the Ethernet header is still within the MTU.
    const std::size_t limit =
        mtu_negotiated ? std::size_t{kMtu} + a::kEthernetHeaderSize + a::kVlanTagSize : a::kMaxFrameSize;
    return size >= a::kEthernetHeaderSize && size <= limit;
  }

  bool enqueue(std::span<const std::uint8_t> frame) {
    if (backlog.size() >= kBacklogFrames || backlog_bytes + frame.size() > kBacklogBytes) return false;
    backlog.emplace_back(frame.begin(), frame.end());
    backlog_bytes += frame.size();
    return true;
  }

  void signal_receive_queue() {
    if (context.queues[a::kReceiveQueue].needs_notification(*context.memory)) {
      context.interrupt->signal_used_queue(a::kReceiveQueue);
    }
  }

  // Writes header + frame into as many receive chains as it takes (one
  // without MRG_RXBUF). `returned` is set when anything went to the used ring.
  RxOutcome try_deliver(std::span<const std::uint8_t> frame, bool& returned) {
    const GuestMemory& memory = *context.memory;
    VirtQueue& rx = context.queues[a::kReceiveQueue];
    const std::uint64_t needed = a::kHeaderSize + frame.size();
    // VirtQueue cannot give a chain back, but its state can be put back: as
    // long as nothing went to the used ring, restoring `before` makes the
    // chains we looked at available again (the driver sees no difference).
    const VirtQueueState before = rx.save();
    const std::size_t max_chains = mergeable ? rx.size() : 1;
    std::vector<DescriptorChain> chains;
    std::uint64_t capacity = 0;
    while (capacity < needed && chains.size() < max_chains) {
      std::optional<DescriptorChain> chain = rx.pop(memory);
      if (!chain) break;
      const bool malformed = !chain->readable.empty() || chain->writable_bytes() < a::kHeaderSize;
      capacity += chain->writable_bytes();
      chains.push_back(std::move(*chain));
      if (malformed) {
        // Put back, it would block the ring forever: return it (and the
        // chains already gathered, to keep num_buffers consecutive) empty.
        for (const DescriptorChain& used : chains) rx.add_used(memory, used.head, 0);
        returned = true;
        guest_error("receive buffer with device-readable parts or smaller than the 12-byte header");
        return RxOutcome::Dropped;
      }
    }
    if (capacity < needed) {
      const bool whole_ring = chains.size() >= rx.size();
      rx.restore(before, memory);
      if (chains.empty()) return RxOutcome::NoBuffers;
      // Without MRG_RXBUF a frame must fit one chain; with it, one larger than
      // everything a full ring offers will never fit. Waiting would block
      // every later frame.
      if (!mergeable || whole_ring) return RxOutcome::Dropped;
      return RxOutcome::NoBuffers;
    }

    a::NetHeader header{};
    header.num_buffers = static_cast<std::uint16_t>(chains.size());  // 1 without MRG_RXBUF
    std::array<std::uint8_t, a::kHeaderSize> header_bytes{};
    std::memcpy(header_bytes.data(), &header, sizeof header);
    // The source is header then frame; copy it as one stream across the
    // chains, each filled completely before the next (5.1.6.4).
    std::uint64_t position = 0;
    const auto copy_out = [&](std::span<std::uint8_t> destination) {
      std::size_t done = 0;
      if (position < a::kHeaderSize) {
        const std::size_t part = std::min<std::size_t>(destination.size(), a::kHeaderSize - position);
        std::memcpy(destination.data(), header_bytes.data() + position, part);
        done = part;
      }
      if (done < destination.size()) {
        const std::uint64_t frame_offset = position + done - a::kHeaderSize;
        std::memcpy(destination.data() + done, frame.data() + frame_offset, destination.size() - done);
      }
      position += destination.size();
    };
    for (const DescriptorChain& chain : chains) {
      std::uint32_t written = 0;
      for (const GuestBuffer& buffer : chain.writable) {
        if (position == needed) break;
        const std::uint64_t length = std::min<std::uint64_t>(buffer.length, needed - position);
        copy_out(memory.span(buffer.address, length));
        written += static_cast<std::uint32_t>(length);
      }
      rx.add_used(memory, chain.head, written);
    }
    returned = true;
    ++counters.rx_frames;
    counters.rx_bytes += frame.size();
    return RxOutcome::Delivered;
  }

  void flush_backlog(bool& returned) {
    if (!link_up) {
      drop_backlog();
      return;
    }
    while (!backlog.empty()) {
      const RxOutcome outcome = try_deliver(backlog.front(), returned);
      if (outcome == RxOutcome::NoBuffers) break;
      if (outcome == RxOutcome::Dropped) ++counters.rx_dropped;
      backlog_bytes -= backlog.front().size();
      backlog.pop_front();
    }
  }

  // The FrameSink's work. True when the frame was delivered or queued.
  bool receive(std::span<const std::uint8_t> frame, std::uint64_t sink_activation) {
    if (!active || sink_activation != activation) {
      ++counters.rx_dropped;
      return false;
    }
    bool returned = false;
    bool taken = false;
    flush_backlog(returned);  // older frames first
    if (link_up && receivable_size(frame.size())) {
      if (!backlog.empty()) {
        taken = enqueue(frame);
      } else {
        switch (try_deliver(frame, returned)) {
          case RxOutcome::Delivered: taken = true; break;
          case RxOutcome::NoBuffers: taken = enqueue(frame); break;
          case RxOutcome::Dropped: break;
        }
      }
    }
    if (!taken) ++counters.rx_dropped;
    if (returned) signal_receive_queue();
    return taken;
  }

  // The driver added receive buffers.
  void process_receive_queue() {
    if (!active) return;
    bool returned = false;
    flush_backlog(returned);
    if (returned) signal_receive_queue();
  }

  static net::FrameSink make_sink(std::weak_ptr<Shared> weak, RunLocked run_locked,
                                  std::uint64_t activation) {
    return [weak = std::move(weak), run_locked = std::move(run_locked),
            activation](std::span<const std::uint8_t> frame) {
      const std::shared_ptr<Shared> self = weak.lock();
      if (!self) return false;  // the device is gone: a late frame is a dropped frame
      bool decided = false;
      bool taken = false;
      const bool ran = run_locked && run_locked([&] {
        taken = self->receive(frame, activation);
        decided = true;
      });
      // Not run (reset, NEEDS_RESET, transport gone) or the ring broke midway.
      if (!ran || !decided) ++self->counters.rx_dropped;
      return taken;
    };
  }

  // ---- transmit (transport lock held) ----

  [[nodiscard]] bool over_budget(std::uint64_t batch_bytes) const {
    return tx_in_flight.load() + batch_bytes >= kTxInFlightBytes;
  }

  // The frame in `chain` if it is one we can send; otherwise counts the drop.
  std::optional<std::vector<std::uint8_t>> take_tx_frame(const DescriptorChain& chain) {
    const auto drop = [&](const std::string& why) -> std::optional<std::vector<std::uint8_t>> {
      ++counters.tx_dropped;
      if (!why.empty()) guest_error(why);
      return std::nullopt;
    };
    if (!chain.writable.empty()) return drop("transmit chain with device-writable buffers");
    const std::uint64_t total = chain.readable_bytes();
    if (total < a::kHeaderSize) return drop("transmit chain shorter than the 12-byte header");
    const std::uint64_t frame_size = total - a::kHeaderSize;
    if (frame_size < a::kEthernetHeaderSize || frame_size > a::kMaxFrameSize) {
      return drop("transmit frame of " + std::to_string(frame_size) + " bytes");
    }
    a::NetHeader header{};
    std::array<std::uint8_t, a::kHeaderSize> header_bytes{};
    read_from_buffers(*context.memory, chain.readable, 0, header_bytes);
    std::memcpy(&header, header_bytes.data(), sizeof header);
    // We offered neither CSUM nor any HOST_* segmentation: a driver asking
    // for them would have us send a frame with a wrong checksum.
    if ((header.flags & a::kHeaderFlagNeedsCsum) != 0 || header.gso_type != a::kGsoNone) {
      return drop("transmit header asks for a checksum or segmentation offload we did not offer");
    }
    if (!link_up) return drop("");  // unplugged: not the driver's fault
    std::vector<std::uint8_t> frame(frame_size);
    read_from_buffers(*context.memory, chain.readable, a::kHeaderSize, frame);
    ++counters.tx_frames;
    counters.tx_bytes += frame.size();
    return frame;
  }

  // Hands copied frames to the backend on the I/O thread.
  void send(std::vector<std::vector<std::uint8_t>> batch, std::uint64_t bytes) {
    if (batch.empty()) return;
    tx_in_flight += bytes;  // before posting: an inline executor finishes inside the call
    post_to_io([self = shared_from_this(), batch = std::move(batch), bytes] {
      for (const std::vector<std::uint8_t>& frame : batch) self->backend.send_to_network(frame);
      self->transmit_done(bytes);
    });
  }

  // I/O thread, after a batch went to the backend.
  void transmit_done(std::uint64_t bytes) {
    tx_in_flight -= bytes;
    if (!tx_stalled.exchange(false)) return;
    const RunLocked run_locked = run_locked_copy();
    if (run_locked) {
      run_locked([this] {
        if (active) process_transmit_queue();
      });
    }
  }

  void process_transmit_queue() {
    if (!active) return;
    const GuestMemory& memory = *context.memory;
    VirtQueue& tx = context.queues[a::kTransmitQueue];
    std::vector<std::vector<std::uint8_t>> batch;
    std::uint64_t batch_bytes = 0;
    bool returned = false;
    try {
      // Until the ring is empty (stopping early would leave the event index
      // unpublished and the driver waiting) or the in-flight budget is spent.
      for (;;) {
        if (over_budget(batch_bytes)) {
          // Announce the stall, then look again: a completion that finished
          // in between either saw the flag or left us under budget.
          tx_stalled = true;
          if (over_budget(batch_bytes)) break;
          tx_stalled = false;
        }
        std::optional<DescriptorChain> chain = tx.pop(memory);
        if (!chain) break;
        std::optional<std::vector<std::uint8_t>> frame = take_tx_frame(*chain);
        tx.add_used(memory, chain->head, 0);  // nothing written into a transmit chain
        returned = true;
        if (frame) {
          batch_bytes += frame->size();
          batch.push_back(std::move(*frame));
        }
      }
    } catch (...) {
      // A broken chain (the transport sets NEEDS_RESET): the frames before it
      // were already returned to the driver as sent, so send them.
      send(std::move(batch), batch_bytes);
      throw;
    }
    if (returned && tx.needs_notification(memory)) {
      context.interrupt->signal_used_queue(a::kTransmitQueue);
    }
    // Last: with an inline executor a stalled queue resumes inside this call.
    send(std::move(batch), batch_bytes);
  }
};

VirtioNet::VirtioNet(net::NetBackend& backend, net::MacAddress mac, IoExecutor post_to_io, Logger log)
    : mac_(mac) {
  if (!post_to_io) {
    throw NestboxError(ErrorCode::InvalidConfig, "virtio-net needs an I/O thread executor");
  }
  shared_ = std::make_shared<Shared>(backend, std::move(post_to_io), std::move(log));
}

VirtioNet::~VirtioNet() {
  // The transport resets us before destroying us; this covers direct use.
  shared_->deactivate();
  if (!sink_installed_) return;
  try {
    shared_->post_to_io([shared = shared_] { shared->backend.set_frame_sink({}); });
  } catch (...) {
    // An executor that refuses work at shutdown: the sink left behind holds
    // only a weak reference and drops whatever it is given.
  }
}

std::uint16_t VirtioNet::device_type() const { return kDeviceTypeNet; }

std::uint64_t VirtioNet::device_features() const { return kOfferedFeatures; }

std::uint32_t VirtioNet::config_size() const { return a::kConfigSize; }

void VirtioNet::read_config(std::uint32_t offset, std::span<std::uint8_t> data) {
  std::array<std::uint8_t, a::kConfigSize> bytes{};
  std::copy(mac_.bytes.begin(), mac_.bytes.end(), bytes.begin() + a::kConfigMacOffset);
  const auto put16 = [&](std::uint32_t at, std::uint16_t value) {
    bytes[at] = static_cast<std::uint8_t>(value);
    bytes[at + 1] = static_cast<std::uint8_t>(value >> 8);
  };
  put16(a::kConfigStatusOffset, shared_->link_up ? a::kStatusLinkUp : 0);
  put16(a::kConfigMaxVirtqueuePairsOffset, 1);
  put16(a::kConfigMtuOffset, kMtu);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < bytes.size() ? bytes[offset + i] : 0;
  }
}

void VirtioNet::write_config(std::uint32_t /*offset*/, std::span<const std::uint8_t> /*data*/) {}

void VirtioNet::activate(const VirtioDeviceContext& context) {
  if (context.memory == nullptr || context.interrupt == nullptr || context.queues.size() < 2) {
    return;  // not a context a transport of ours produces; stay inactive
  }
  shared_->activate(context);
  sink_installed_ = true;
  // The sink is bound to this activation: one still in the backend after a
  // reset finds run_locked refusing, and drops.
  shared_->post_to_io([weak = std::weak_ptr<Shared>(shared_), run_locked = context.run_locked,
                       activation = shared_->activation] {
    const std::shared_ptr<Shared> self = weak.lock();
    if (!self) return;
    self->backend.set_frame_sink(Shared::make_sink(weak, run_locked, activation));
    self->change_link(self->backend.link_up());
  });
}

void VirtioNet::process_queue(std::uint16_t queue) {
  if (queue == a::kReceiveQueue) {
    shared_->process_receive_queue();
  } else if (queue == a::kTransmitQueue) {
    shared_->process_transmit_queue();
  }
}

void VirtioNet::reset() {
  shared_->deactivate();
  if (!sink_installed_) return;
  sink_installed_ = false;
  // FIFO with the activation's task: a later activation's sink lands after this.
  shared_->post_to_io([shared = shared_] { shared->backend.set_frame_sink({}); });
}

void VirtioNet::set_link_up(bool up) { shared_->change_link(up); }

bool VirtioNet::link_up() const { return shared_->link_up; }

net::NetStats VirtioNet::stats() const { return shared_->counters.load(); }

VirtioNetState VirtioNet::save() const { return VirtioNetState{shared_->link_up, stats()}; }

void VirtioNet::restore(const VirtioNetState& state) {
  shared_->link_up = state.link_up;
  shared_->counters.store(state.stats);
}

}  // namespace nestbox::virtio
