// What a virtual NIC (virtio-net, later e1000) sees of the network behind it:
// Ethernet frames in both directions, a link that can be unplugged, counters,
// and save/restore. Independent of libslirp, so a TAP or bridged backend can
// stand behind the same NIC later.
//
// A backend is also a Pollable: the machine's one I/O thread drives its host
// sockets and timers (see pollable.h); no backend owns a thread.
//
// Threading: every call on the I/O thread, including send_to_network() (the
// NIC's transmit path runs there, from its ioeventfd) and the FrameSink, which
// the backend calls from inside send_to_network() or process().
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "net/pollable.h"

namespace nestbox::net {

// Hands one frame from the network to the NIC. Returns false when the NIC
// could not take it (link down in the guest, receive ring full): the frame is
// dropped and counted, as a real wire would drop it; TCP recovers. The sink
// must not call back into the backend (queue instead): libslirp is not
// re-entrant.
using FrameSink = std::function<bool(std::span<const std::uint8_t> frame)>;

struct NetStats {
  std::uint64_t tx_frames = 0;   // guest -> network, accepted
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_dropped = 0;  // link down, malformed size, or re-entrant send
  std::uint64_t rx_frames = 0;   // network -> guest, taken by the sink
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_dropped = 0;  // link down, no sink, or the sink refused
  std::uint64_t guest_errors = 0;  // protocol misbehaviour the stack reported
};

// A backend's own state, opaque to the snapshot layer, which stores it as is.
struct NetBackendState {
  std::string kind;            // which backend wrote it ("slirp")
  std::uint32_t version = 0;   // that backend's state format version
  std::vector<std::uint8_t> data;
};

enum class RestoreOutcome {
  Restored,   // connections and tables came back
  LinkReset,  // the state could not be used: the backend restarted clean. The
              // caller should flap the NIC's link so the guest renews its lease
              // and its connections fail fast instead of hanging.
};

class NetBackend : public Pollable {
 public:
  // Frames from the network go here; until one is set they are dropped.
  virtual void set_frame_sink(FrameSink sink) = 0;
  // One Ethernet frame from the guest (destination MAC first, no FCS). Any
  // bytes are safe: malformed frames are dropped, never trusted.
  virtual void send_to_network(std::span<const std::uint8_t> ethernet_frame) = 0;

  // Cable plugged in or not. While down, frames are dropped both ways; host
  // sockets and port forwards stay open.
  virtual void set_link_up(bool up) = 0;
  [[nodiscard]] virtual bool link_up() const = 0;

  [[nodiscard]] virtual NetStats stats() const = 0;

  virtual NetBackendState save() = 0;
  // Never throws for bad state: falls back to a clean restart and says so.
  virtual RestoreOutcome restore(const NetBackendState& state) = 0;
};

}  // namespace nestbox::net
