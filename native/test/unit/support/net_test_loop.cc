#include "support/net_test_loop.h"

#include <poll.h>

#include <algorithm>

namespace nestbox::test::net {

using nestbox::net::PollClock;
using nestbox::net::PollReady;

void run_poll_round(nestbox::net::Pollable& target, std::chrono::milliseconds max_wait) {
  const nestbox::net::PollPlan plan = target.prepare_poll();
  std::vector<pollfd> fds;
  for (const auto& request : plan.fds) {
    fds.push_back({request.fd, static_cast<short>(request.events), 0});
  }
  auto wait = max_wait;
  if (plan.deadline) {
    const auto until = std::chrono::ceil<std::chrono::milliseconds>(*plan.deadline - PollClock::now());
    wait = std::clamp(until, 0ms, max_wait);
  }
  const int count = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
  std::vector<PollReady> ready;
  if (count > 0) {
    for (const pollfd& fd : fds) {
      if (fd.revents != 0) {
        ready.push_back({fd.fd, static_cast<std::uint32_t>(fd.revents)});
      }
    }
  }
  target.process(ready, PollClock::now());
}

FakeGuest::FakeGuest(nestbox::net::NetBackend& backend, const MacAddress& mac, std::uint32_t ip)
    : mac(mac), ip(ip), backend_(backend) {
  backend_.set_frame_sink([this](std::span<const std::uint8_t> frame) {
    inbox_.emplace_back(frame.begin(), frame.end());
    return true;
  });
}

void FakeGuest::answer_arp() {
  std::vector<Bytes> replies;
  std::erase_if(inbox_, [&](const Bytes& frame) {
    const auto arp = parse_arp(frame);
    if (!arp || arp->operation != 1 || arp->target_ip != ip) {
      return false;
    }
    replies.push_back(build_arp_reply(mac, ip, arp->sender_mac, arp->sender_ip));
    return true;
  });
  for (const Bytes& reply : replies) {
    ++arp_answered_;
    send(reply);
  }
}

std::optional<Bytes> FakeGuest::wait_for(const std::function<bool(const Bytes&)>& match,
                                         std::chrono::milliseconds timeout) {
  const auto give_up = PollClock::now() + timeout;
  for (;;) {
    answer_arp();
    if (const auto found = std::find_if(inbox_.begin(), inbox_.end(), match);
        found != inbox_.end()) {
      Bytes frame = std::move(*found);
      inbox_.erase(found);
      return frame;
    }
    const auto now = PollClock::now();
    if (now >= give_up) {
      return std::nullopt;
    }
    run_poll_round(backend_, std::min<std::chrono::milliseconds>(
                                 20ms, std::chrono::ceil<std::chrono::milliseconds>(give_up - now)));
  }
}

void FakeGuest::run_for(std::chrono::milliseconds duration) {
  const auto until = PollClock::now() + duration;
  while (PollClock::now() < until) {
    answer_arp();
    run_poll_round(backend_, 10ms);
  }
  answer_arp();
}

}  // namespace nestbox::test::net
