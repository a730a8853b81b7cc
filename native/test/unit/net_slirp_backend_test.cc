// The user-mode network seen from a fake guest: DHCP, ARP, link state,
// malformed input, configuration errors and save/restore.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "net/net_error.h"
#include "net/slirp_backend.h"
#include "support/net_frames.h"
#include "support/net_test_loop.h"

using namespace nestbox::test::net;
using nestbox::net::NetBackendState;
using nestbox::net::NetError;
using nestbox::net::NetErrorKind;
using nestbox::net::RestoreOutcome;
using nestbox::net::SlirpBackend;
using nestbox::net::SlirpNetworkConfig;

namespace {

const MacAddress guest_mac{{0x02, 0x4e, 0x42, 0x00, 0x00, 0x01}};

// Guest errors go to the test's log, not stderr.
struct QuietLog {
  std::vector<std::string> lines;
  SlirpBackend::Logger logger() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

bool is_dhcp(const Bytes& frame, DhcpType type) {
  const auto reply = parse_dhcp_reply(frame);
  return reply && reply->type == type;
}

// DISCOVER -> OFFER -> REQUEST -> ACK; returns the ACK.
DhcpReply lease(FakeGuest& guest, std::uint32_t xid) {
  guest.send(build_dhcp_discover(guest.mac, xid));
  const auto offer_frame = guest.wait_for([](const Bytes& f) { return is_dhcp(f, DhcpType::Offer); });
  REQUIRE(offer_frame);
  const DhcpReply offer = *parse_dhcp_reply(*offer_frame);
  guest.send(build_dhcp_request(guest.mac, xid, offer.your_ip, offer.server_id));
  const auto ack_frame = guest.wait_for([](const Bytes& f) { return is_dhcp(f, DhcpType::Ack); });
  REQUIRE(ack_frame);
  return *parse_dhcp_reply(*ack_frame);
}

SlirpNetworkConfig default_config() {
  SlirpNetworkConfig config;
  config.guest_hostname = "testvm";
  return config;
}

}  // namespace

TEST_CASE("user network: DHCP offers 10.0.2.15 with the gateway and DNS, then acknowledges") {
  QuietLog log;
  SlirpBackend backend(default_config(), log.logger());
  FakeGuest guest(backend, guest_mac, 0);

  guest.send(build_dhcp_discover(guest_mac, 0x1234abcd));
  const auto offer_frame = guest.wait_for([](const Bytes& f) { return is_dhcp(f, DhcpType::Offer); });
  REQUIRE(offer_frame);
  const DhcpReply offer = *parse_dhcp_reply(*offer_frame);
  CHECK(offer.transaction_id == 0x1234abcd);
  CHECK(offer.client == guest_mac);
  CHECK(ipv4_text(offer.your_ip) == "10.0.2.15");
  CHECK(ipv4_text(offer.server_id) == "10.0.2.2");
  CHECK(ipv4_text(offer.subnet_mask) == "255.255.255.0");
  REQUIRE(offer.routers.size() == 1);
  CHECK(ipv4_text(offer.routers[0]) == "10.0.2.2");
  REQUIRE(offer.dns_servers.size() == 1);
  CHECK(ipv4_text(offer.dns_servers[0]) == "10.0.2.3");
  CHECK(offer.lease_seconds > 0);
  CHECK(offer.hostname == "testvm");
  const auto ethernet = parse_ethernet(*offer_frame);
  CHECK(ethernet->source.is_unicast());

  guest.send(build_dhcp_request(guest_mac, 0x1234abcd, offer.your_ip, offer.server_id));
  const auto ack_frame = guest.wait_for([](const Bytes& f) { return is_dhcp(f, DhcpType::Ack); });
  REQUIRE(ack_frame);
  const DhcpReply ack = *parse_dhcp_reply(*ack_frame);
  CHECK(ack.transaction_id == 0x1234abcd);
  CHECK(ipv4_text(ack.your_ip) == "10.0.2.15");
  CHECK(ack.routers == offer.routers);

  const auto stats = backend.stats();
  CHECK(stats.tx_frames == 2);
  CHECK(stats.rx_frames >= 2);
  CHECK(stats.rx_dropped == 0);
}

TEST_CASE("user network: the gateway and the DNS server answer ARP") {
  QuietLog log;
  SlirpBackend backend(default_config(), log.logger());
  FakeGuest guest(backend, guest_mac, ipv4("10.0.2.15"));

  for (const char* address : {"10.0.2.2", "10.0.2.3"}) {
    CAPTURE(address);
    guest.send(build_arp_request(guest_mac, ipv4("10.0.2.15"), ipv4(address)));
    const auto reply_frame = guest.wait_for([&](const Bytes& f) {
      const auto arp = parse_arp(f);
      return arp && arp->operation == 2 && arp->sender_ip == ipv4(address);
    });
    REQUIRE(reply_frame);
    const ArpPacket reply = *parse_arp(*reply_frame);
    CHECK(reply.target_ip == ipv4("10.0.2.15"));
    CHECK(reply.target_mac == guest_mac);
    CHECK(reply.sender_mac.is_unicast());
    CHECK(reply.sender_mac != MacAddress{});
    CHECK(parse_ethernet(*reply_frame)->destination == guest_mac);
  }
  // Nobody else lives on the virtual network.
  guest.send(build_arp_request(guest_mac, ipv4("10.0.2.15"), ipv4("10.0.2.77")));
  CHECK_FALSE(guest.wait_for([](const Bytes& f) { return parse_arp(f).has_value(); }, 200ms));
}

TEST_CASE("user network: an unplugged link drops frames both ways and counts them") {
  QuietLog log;
  SlirpBackend backend(default_config(), log.logger());
  FakeGuest guest(backend, guest_mac, 0);
  CHECK(backend.link_up());

  backend.set_link_up(false);
  guest.send(build_dhcp_discover(guest_mac, 1));
  CHECK_FALSE(guest.wait_for([](const Bytes& f) { return is_dhcp(f, DhcpType::Offer); }, 200ms));
  CHECK(backend.stats().tx_dropped == 1);
  CHECK(backend.stats().tx_frames == 0);

  backend.set_link_up(true);
  guest.send(build_dhcp_discover(guest_mac, 2));
  CHECK(guest.wait_for([](const Bytes& f) { return is_dhcp(f, DhcpType::Offer); }));

  // A NIC that refuses frames (ring full) has them counted as dropped.
  backend.set_frame_sink([](std::span<const std::uint8_t>) { return false; });
  backend.send_to_network(build_dhcp_discover(guest_mac, 3));
  for (int i = 0; i < 5; ++i) {
    run_poll_round(backend, 10ms);
  }
  CHECK(backend.stats().rx_dropped >= 1);
}

TEST_CASE("user network: a frame sink that sends from inside the stack is refused, not re-entered") {
  QuietLog log;
  SlirpBackend backend(default_config(), log.logger());
  int replies = 0;
  backend.set_frame_sink([&](std::span<const std::uint8_t>) {
    ++replies;
    backend.send_to_network(build_dhcp_discover(guest_mac, 9));  // must not reach libslirp
    return true;
  });
  backend.send_to_network(build_arp_request(guest_mac, ipv4("10.0.2.15"), ipv4("10.0.2.2")));
  CHECK(replies == 1);
  CHECK(backend.stats().tx_frames == 1);
  CHECK(backend.stats().tx_dropped == 1);
}

TEST_CASE("user network: truncated and garbage frames are dropped without harm") {
  QuietLog log;
  SlirpNetworkConfig config = default_config();
  // Isolated, so a random frame that happens to be a valid packet to some
  // internet address is not really sent anywhere by the test.
  config.isolated = true;
  SlirpBackend backend(config, log.logger());
  FakeGuest guest(backend, guest_mac, ipv4("10.0.2.15"));

  // Sizes around every header boundary, of frames that are otherwise valid.
  const Bytes dhcp = build_dhcp_discover(guest_mac, 7);
  const Bytes arp = build_arp_request(guest_mac, ipv4("10.0.2.15"), ipv4("10.0.2.2"));
  const Bytes tcp = build_tcp_frame({guest_mac, broadcast_mac, ipv4("10.0.2.15"), ipv4("10.0.2.2"),
                                     1234, 80},
                                    1, 0, tcp_flag::syn);
  for (const Bytes* whole : {&dhcp, &arp, &tcp}) {
    for (std::size_t size = 0; size < whole->size(); ++size) {
      backend.send_to_network(std::span(*whole).first(size));
    }
  }
  // IPv4 headers that lie about their lengths.
  for (const std::uint8_t version_ihl : {0x40, 0x41, 0x4f, 0x46, 0x60, 0xff}) {
    Bytes bad = tcp;
    bad[14] = version_ihl;
    backend.send_to_network(bad);
  }
  for (const std::uint16_t total : {0, 1, 19, 20, 21, 0xffff}) {
    Bytes bad = tcp;
    bad[16] = static_cast<std::uint8_t>(total >> 8);
    bad[17] = static_cast<std::uint8_t>(total);
    backend.send_to_network(bad);
  }
  // Random bytes under the ethertypes the stack parses.
  std::mt19937 random(12345);
  for (int i = 0; i < 3000; ++i) {
    Bytes frame(random() % 1600);
    for (auto& byte : frame) {
      byte = static_cast<std::uint8_t>(random());
    }
    if (frame.size() >= 14) {
      const std::uint16_t types[] = {ethertype_ipv4, ethertype_arp, ethertype_ipv6, 0x1234};
      const std::uint16_t type = types[random() % 4];
      frame[12] = static_cast<std::uint8_t>(type >> 8);
      frame[13] = static_cast<std::uint8_t>(type);
      if (type == ethertype_ipv4 && frame.size() >= 34) {
        frame[14] = 0x45;  // get past the first checks, deeper into the parser
      }
    }
    backend.send_to_network(frame);
    if (i % 100 == 0) {
      run_poll_round(backend, 0ms);
    }
  }
  // Oversized.
  backend.send_to_network(Bytes(70000, 0x45));
  guest.run_for(50ms);

  CHECK(backend.stats().tx_dropped >= 15);  // the runts below 14 bytes and the giant
  // Still a working network afterwards.
  guest.inbox().clear();
  guest.send(build_arp_request(guest_mac, ipv4("10.0.2.15"), ipv4("10.0.2.2")));
  CHECK(guest.wait_for([](const Bytes& f) {
    const auto reply = parse_arp(f);
    return reply && reply->operation == 2;
  }));
}

TEST_CASE("user network: configuration errors name the field") {
  const auto error_for = [](auto change) {
    SlirpNetworkConfig config;
    change(config);
    try {
      SlirpBackend backend(config);
    } catch (const NetError& error) {
      CHECK(error.kind() == NetErrorKind::InvalidConfig);
      return std::string(error.what());
    }
    FAIL("expected a NetError");
    return std::string();
  };
  CHECK(error_for([](SlirpNetworkConfig& c) { c.network = "10.0.2"; }).find("network") !=
        std::string::npos);
  CHECK(error_for([](SlirpNetworkConfig& c) { c.network = "10.0.2.1"; }).find("host bits") !=
        std::string::npos);
  CHECK(error_for([](SlirpNetworkConfig& c) { c.host = "192.168.1.1"; }).find("host address") !=
        std::string::npos);
  CHECK(error_for([](SlirpNetworkConfig& c) { c.dns = "10.0.2.255"; }).find("DNS") !=
        std::string::npos);
  CHECK(error_for([](SlirpNetworkConfig& c) { c.dhcp_start = "10.0.2.2"; }).find("differ") !=
        std::string::npos);
  CHECK(error_for([](SlirpNetworkConfig& c) { c.prefix_length = 31; }).find("/31") !=
        std::string::npos);
  CHECK(error_for([](SlirpNetworkConfig& c) { c.ipv6_host = "2001:db8::2"; }).find("IPv6") !=
        std::string::npos);
  CHECK(error_for([](SlirpNetworkConfig& c) { c.guest_hostname = "bad name"; })
            .find("hostname") != std::string::npos);
  // IPv6 settings do not matter when IPv6 is off.
  SlirpNetworkConfig ipv4_only;
  ipv4_only.ipv6 = false;
  ipv4_only.ipv6_host = "nonsense";
  CHECK_NOTHROW(SlirpBackend{ipv4_only});
}

TEST_CASE("user network: save and restore keep the guest's lease") {
  QuietLog log;
  NetBackendState saved;
  {
    SlirpBackend backend(default_config(), log.logger());
    FakeGuest guest(backend, guest_mac, 0);
    CHECK(ipv4_text(lease(guest, 42).your_ip) == "10.0.2.15");
    saved = backend.save();
    CHECK(saved.kind == "slirp");
    CHECK(saved.version >= 1);
    CHECK_FALSE(saved.data.empty());
  }
  SlirpBackend restored(default_config(), log.logger());
  CHECK(restored.restore(saved) == RestoreOutcome::Restored);
  // A second guest asks first: with the lease table restored it must not be
  // given the first guest's address.
  const MacAddress other{{0x02, 0x4e, 0x42, 0x00, 0x00, 0x02}};
  {
    FakeGuest intruder(restored, other, 0);
    CHECK(ipv4_text(lease(intruder, 43).your_ip) != "10.0.2.15");
  }
  FakeGuest again(restored, guest_mac, 0);
  CHECK(ipv4_text(lease(again, 44).your_ip) == "10.0.2.15");
}

TEST_CASE("user network: unusable saved state falls back to a clean restart") {
  QuietLog log;
  SlirpBackend backend(default_config(), log.logger());
  NetBackendState good = backend.save();

  NetBackendState foreign = good;
  foreign.kind = "tap";
  CHECK(backend.restore(foreign) == RestoreOutcome::LinkReset);

  NetBackendState newer = good;
  newer.version = 1000;
  CHECK(backend.restore(newer) == RestoreOutcome::LinkReset);

  NetBackendState truncated = good;
  truncated.data.resize(truncated.data.size() / 2);
  CHECK(backend.restore(truncated) == RestoreOutcome::LinkReset);

  NetBackendState garbage = good;
  for (auto& byte : garbage.data) {
    byte = 0x5a;
  }
  CHECK(backend.restore(garbage) == RestoreOutcome::LinkReset);
  CHECK(log.lines.size() >= 4);

  // The network works after every fallback.
  FakeGuest guest(backend, guest_mac, 0);
  CHECK(ipv4_text(lease(guest, 5).your_ip) == "10.0.2.15");
}
