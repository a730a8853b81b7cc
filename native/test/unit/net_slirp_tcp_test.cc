// TCP through the user network: a guest connection reaching a server on the
// host's loopback (via the gateway address), and host-to-guest port forwards.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "net/net_error.h"
#include "net/slirp_backend.h"
#include "support/net_frames.h"
#include "support/net_test_loop.h"

using namespace nestbox::test::net;
using nestbox::UniqueFd;
using nestbox::net::NetError;
using nestbox::net::NetErrorKind;
using nestbox::net::NetProtocol;
using nestbox::net::PortForward;
using nestbox::net::SlirpBackend;
using nestbox::net::SlirpNetworkConfig;

namespace {

const MacAddress guest_mac{{0x02, 0x4e, 0x42, 0x00, 0x00, 0x01}};
const std::uint32_t guest_ip = ipv4("10.0.2.15");

SlirpBackend::Logger quiet() {
  return [](std::string_view) {};
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

std::uint16_t local_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  return ntohs(address.sin_port);
}

// A TCP socket listening on 127.0.0.1 at an ephemeral port.
UniqueFd listen_on_loopback(std::uint16_t port = 0) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  const sockaddr_in address = loopback(port);
  REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(fd.get(), 4) == 0);
  return fd;
}

// A port that was free a moment ago (for forwards: libslirp cannot report
// which port it picked for 0).
std::uint16_t free_port() {
  const UniqueFd probe = listen_on_loopback();
  return local_port(probe.get());
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, timeout_ms) == 1;
}

// The host-side server: accepts one connection, reads "hello", answers
// "world", then waits for the peer to close. Runs on its own thread so the
// test thread can play the I/O loop.
class EchoServer {
 public:
  EchoServer() : listener_(listen_on_loopback()), port_(local_port(listener_.get())) {
    thread_ = std::thread([this] { serve(); });
  }
  ~EchoServer() { thread_.join(); }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  std::string received() const {
    const std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void serve() {
    if (!wait_readable(listener_.get(), 10000)) {
      return;
    }
    const UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection.valid()) {
      return;
    }
    char buffer[256];
    std::string got;
    while (got.size() < 5 && wait_readable(connection.get(), 10000)) {
      const ssize_t count = ::read(connection.get(), buffer, sizeof buffer);
      if (count <= 0) {
        break;
      }
      got.append(buffer, static_cast<std::size_t>(count));
    }
    {
      const std::lock_guard lock(mutex_);
      received_ = got;
    }
    [[maybe_unused]] const ssize_t sent = ::write(connection.get(), "world", 5);
    while (wait_readable(connection.get(), 10000) &&
           ::read(connection.get(), buffer, sizeof buffer) > 0) {
    }
  }

  UniqueFd listener_;
  std::uint16_t port_;
  mutable std::mutex mutex_;
  std::string received_;
  std::thread thread_;
};

// Primes the stack's ARP table the way a booting guest does.
MacAddress resolve_gateway(FakeGuest& guest) {
  guest.send(build_arp_request(guest.mac, guest.ip, ipv4("10.0.2.2")));
  const auto reply = guest.wait_for([](const Bytes& f) {
    const auto arp = parse_arp(f);
    return arp && arp->operation == 2;
  });
  REQUIRE(reply);
  return parse_arp(*reply)->sender_mac;
}

}  // namespace

TEST_CASE("user network: a guest TCP connection exchanges data with a server on the host's loopback") {
  SlirpBackend backend(SlirpNetworkConfig{}, quiet());
  FakeGuest guest(backend, guest_mac, guest_ip);
  const MacAddress gateway = resolve_gateway(guest);
  EchoServer server;

  // The gateway address stands for the host itself: 10.0.2.2:<port> reaches
  // 127.0.0.1:<port>.
  const TcpEndpoints out{guest_mac, gateway, guest_ip, ipv4("10.0.2.2"), 40000, server.port()};
  const std::uint32_t our_isn = 1000;
  guest.send(build_tcp_frame(out, our_isn, 0, tcp_flag::syn));

  const auto is_for_us = [&](const TcpSegment& s) {
    return s.source_ip == ipv4("10.0.2.2") && s.source_port == server.port() &&
           s.destination_ip == guest_ip && s.destination_port == 40000;
  };
  const auto syn_ack_frame = guest.wait_for([&](const Bytes& f) {
    const auto s = parse_tcp(f);
    return s && is_for_us(*s) && s->has(tcp_flag::syn | tcp_flag::ack);
  });
  REQUIRE(syn_ack_frame);
  const TcpSegment syn_ack = *parse_tcp(*syn_ack_frame);
  CHECK(syn_ack.acknowledgment == our_isn + 1);
  CHECK(parse_ethernet(*syn_ack_frame)->destination == guest_mac);

  std::uint32_t their_next = syn_ack.sequence + 1;
  guest.send(build_tcp_frame(out, our_isn + 1, their_next, tcp_flag::ack));
  guest.send(build_tcp_frame(out, our_isn + 1, their_next, tcp_flag::ack | tcp_flag::psh,
                             as_bytes("hello")));

  std::string reply;
  const auto data_frame = guest.wait_for([&](const Bytes& f) {
    const auto s = parse_tcp(f);
    return s && is_for_us(*s) && !s->payload.empty();
  });
  REQUIRE(data_frame);
  const TcpSegment data = *parse_tcp(*data_frame);
  reply.assign(data.payload.begin(), data.payload.end());
  CHECK(reply == "world");
  CHECK(data.sequence == their_next);
  CHECK(server.received() == "hello");

  // Acknowledge and close from the guest side, so the server thread ends.
  their_next += static_cast<std::uint32_t>(data.payload.size());
  guest.send(build_tcp_frame(out, our_isn + 6, their_next, tcp_flag::ack | tcp_flag::fin));
  CHECK(guest.wait_for([&](const Bytes& f) {
    const auto s = parse_tcp(f);
    return s && is_for_us(*s) && s->has(tcp_flag::fin);
  }));
  CHECK(backend.connection_info().find("TCP") != std::string::npos);
}

TEST_CASE("user network: with host loopback disallowed, the gateway does not reach host services") {
  SlirpNetworkConfig config;
  config.allow_host_loopback = false;
  SlirpBackend backend(config, quiet());
  FakeGuest guest(backend, guest_mac, guest_ip);
  const MacAddress gateway = resolve_gateway(guest);
  const UniqueFd listener = listen_on_loopback();
  const std::uint16_t port = local_port(listener.get());

  guest.send(build_tcp_frame({guest_mac, gateway, guest_ip, ipv4("10.0.2.2"), 40001, port}, 1, 0,
                             tcp_flag::syn));
  // Refused with an ICMP unreachable (libslirp's answer to a connection it
  // may not make), never accepted.
  const auto answer = guest.wait_for(
      [&](const Bytes& f) {
        const auto ip = parse_ipv4(f);
        return ip && ip->destination == guest_ip && ip->protocol == 1;
      },
      2000ms);
  CHECK(answer);
  CHECK_FALSE(wait_readable(listener.get(), 0));
}

TEST_CASE("user network: a port forward turns a host connection into a SYN to the guest") {
  SlirpBackend backend(SlirpNetworkConfig{}, quiet());
  FakeGuest guest(backend, guest_mac, guest_ip);
  resolve_gateway(guest);
  const std::uint16_t host_port = free_port();
  backend.add_port_forward({NetProtocol::Tcp, "127.0.0.1", host_port, "", 8080});
  REQUIRE(backend.port_forwards().size() == 1);

  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const sockaddr_in address = loopback(host_port);
  const int connected =
      ::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  REQUIRE((connected == 0 || errno == EINPROGRESS));

  const auto syn_frame = guest.wait_for([](const Bytes& f) {
    const auto s = parse_tcp(f);
    return s && s->destination_port == 8080;
  });
  REQUIRE(syn_frame);
  const TcpSegment syn = *parse_tcp(*syn_frame);
  CHECK(syn.flags == tcp_flag::syn);
  CHECK(ipv4_text(syn.destination_ip) == "10.0.2.15");
  CHECK(parse_ethernet(*syn_frame)->destination == guest_mac);

  // Completing the handshake from the guest carries data back to the client.
  const TcpEndpoints back{guest_mac, parse_ethernet(*syn_frame)->source, guest_ip, syn.source_ip,
                          8080, syn.source_port};
  guest.send(build_tcp_frame(back, 5000, syn.sequence + 1, tcp_flag::syn | tcp_flag::ack));
  guest.send(build_tcp_frame(back, 5001, syn.sequence + 1, tcp_flag::ack | tcp_flag::psh,
                             as_bytes("from the guest")));
  std::string received;
  for (int i = 0; i < 200 && received.size() < 14; ++i) {
    guest.run_for(10ms);
    char buffer[64];
    const ssize_t count = ::read(client.get(), buffer, sizeof buffer);
    if (count > 0) {
      received.append(buffer, static_cast<std::size_t>(count));
    }
  }
  CHECK(received == "from the guest");

  CHECK(backend.remove_port_forward(NetProtocol::Tcp, "127.0.0.1", host_port));
  CHECK_FALSE(backend.remove_port_forward(NetProtocol::Tcp, "127.0.0.1", host_port));
  CHECK(backend.port_forwards().empty());
}

TEST_CASE("user network: a taken host port is a clear error, and the network still works") {
  SlirpBackend backend(SlirpNetworkConfig{}, quiet());
  const UniqueFd squatter = listen_on_loopback();
  const std::uint16_t taken = local_port(squatter.get());
  try {
    backend.add_port_forward({NetProtocol::Tcp, "127.0.0.1", taken, "", 22});
    FAIL("expected a NetError");
  } catch (const NetError& error) {
    CHECK(error.kind() == NetErrorKind::HostPortInUse);
    CHECK(std::string(error.what()).find("127.0.0.1:" + std::to_string(taken)) != std::string::npos);
    CHECK(std::string(error.what()).find("already in use") != std::string::npos);
  }
  CHECK(backend.port_forwards().empty());

  const std::uint16_t port = free_port();
  backend.add_port_forward({NetProtocol::Tcp, "127.0.0.1", port, "", 22});
  try {
    backend.add_port_forward({NetProtocol::Tcp, "127.0.0.1", port, "", 23});
    FAIL("expected a NetError");
  } catch (const NetError& error) {
    CHECK(error.kind() == NetErrorKind::HostPortInUse);
    CHECK(std::string(error.what()).find("already forwarded") != std::string::npos);
  }
  // UDP and TCP ports are separate.
  backend.add_port_forward({NetProtocol::Udp, "127.0.0.1", port, "", 53});
  CHECK(backend.port_forwards().size() == 2);

  const auto kind_of = [&](const PortForward& forward) {
    try {
      backend.add_port_forward(forward);
    } catch (const NetError& error) {
      return error.kind();
    }
    return NetErrorKind::BackendFailed;  // "did not throw"
  };
  CHECK(kind_of({NetProtocol::Tcp, "127.0.0.1", 0, "", 22}) == NetErrorKind::InvalidConfig);
  CHECK(kind_of({NetProtocol::Tcp, "127.0.0.1", free_port(), "", 0}) == NetErrorKind::InvalidConfig);
  CHECK(kind_of({NetProtocol::Tcp, "localhost", free_port(), "", 22}) == NetErrorKind::InvalidConfig);
  CHECK(kind_of({NetProtocol::Tcp, "127.0.0.1", free_port(), "192.168.0.5", 22}) ==
        NetErrorKind::InvalidConfig);
  CHECK(kind_of({NetProtocol::Tcp, "192.0.2.1", free_port(), "", 22}) ==
        NetErrorKind::HostPortFailed);
  if (::geteuid() != 0) {
    CHECK(kind_of({NetProtocol::Tcp, "127.0.0.1", 1, "", 22}) == NetErrorKind::HostPortDenied);
  }
}

TEST_CASE("user network: port forwards in the config are set up by the constructor") {
  const UniqueFd squatter = listen_on_loopback();
  SlirpNetworkConfig config;
  config.port_forwards.push_back({NetProtocol::Tcp, "127.0.0.1", local_port(squatter.get()), "", 80});
  try {
    SlirpBackend backend(config, quiet());
    FAIL("expected a NetError");
  } catch (const NetError& error) {
    CHECK(error.kind() == NetErrorKind::HostPortInUse);
  }
  config.port_forwards = {{NetProtocol::Tcp, "127.0.0.1", free_port(), "", 80}};
  SlirpBackend backend(config, quiet());
  CHECK(backend.port_forwards().size() == 1);
}
