// A tiny stand-in for the I/O thread, and a fake guest on the user network,
// for the network backend's tests: poll(2) on the backend's plan, process,
// repeat — single-threaded, so every frame arrives between rounds.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>

#include "net/net_backend.h"
#include "support/net_frames.h"

namespace nestbox::test::net {

using namespace std::chrono_literals;

// One plan -> poll(2) -> process round, sleeping at most `max_wait`.
void run_poll_round(nestbox::net::Pollable& target, std::chrono::milliseconds max_wait);

class FakeGuest {
 public:
  // Becomes `backend`'s frame sink.
  FakeGuest(nestbox::net::NetBackend& backend, const MacAddress& mac, std::uint32_t ip);

  void send(const Bytes& frame) { backend_.send_to_network(frame); }

  // Runs rounds until a received frame satisfies `match`; removes and returns
  // it. ARP requests for our address are answered between rounds, as a guest
  // kernel would. nullopt after `timeout`.
  std::optional<Bytes> wait_for(const std::function<bool(const Bytes&)>& match,
                                std::chrono::milliseconds timeout = 5000ms);
  // Runs rounds for `duration`, answering ARP.
  void run_for(std::chrono::milliseconds duration);

  [[nodiscard]] std::deque<Bytes>& inbox() { return inbox_; }
  [[nodiscard]] int arp_requests_answered() const { return arp_answered_; }

  const MacAddress mac;
  const std::uint32_t ip;

 private:
  void answer_arp();

  nestbox::net::NetBackend& backend_;
  std::deque<Bytes> inbox_;
  int arp_answered_ = 0;
};

}  // namespace nestbox::test::net
