#include "net/slirp_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <slirp/libslirp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

#include "common/unique_fd.h"
#include "net/net_error.h"

namespace nestbox::net {

namespace {

// A frame larger than this is not Ethernet (64 KiB IP packet + header + VLAN
// tag); libslirp's input takes an int length anyway.
constexpr std::size_t max_frame_size = 65535 + 14 + 4;
constexpr std::size_t ethernet_header_size = 14;
// Guest errors beyond this many are counted, not logged: a hostile guest must
// not be able to fill the VM's log.
constexpr std::uint64_t guest_errors_logged = 32;

std::int64_t clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             PollClock::now().time_since_epoch())
      .count();
}

PollClock::time_point from_clock_ms(std::int64_t ms) {
  return PollClock::time_point(std::chrono::milliseconds(ms));
}

std::int64_t to_clock_ms(PollClock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

[[noreturn]] void invalid(const std::string& message) {
  throw NetError(NetErrorKind::InvalidConfig, "user network: " + message);
}

std::optional<in_addr> parse_ipv4(const std::string& text) {
  in_addr address{};
  if (::inet_pton(AF_INET, text.c_str(), &address) != 1) {
    return std::nullopt;
  }
  return address;
}

in_addr require_ipv4(const std::string& text, const char* field) {
  const auto address = parse_ipv4(text);
  if (!address) {
    invalid(std::string(field) + " \"" + text + "\" is not an IPv4 address");
  }
  return *address;
}

in6_addr require_ipv6(const std::string& text, const char* field) {
  in6_addr address{};
  if (::inet_pton(AF_INET6, text.c_str(), &address) != 1) {
    invalid(std::string(field) + " \"" + text + "\" is not an IPv6 address");
  }
  return address;
}

std::string format_ipv4(in_addr address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

std::uint32_t prefix_mask(std::uint8_t length) {
  return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
}

bool same_ipv6_prefix(const in6_addr& a, const in6_addr& b, std::uint8_t length) {
  for (unsigned bit = 0; bit < length; ++bit) {
    const unsigned mask = 0x80u >> (bit % 8);
    if ((a.s6_addr[bit / 8] & mask) != (b.s6_addr[bit / 8] & mask)) {
      return false;
    }
  }
  return true;
}

// Everything the config says, parsed into libslirp's types.
struct StackAddresses {
  in_addr network{};
  in_addr mask{};
  in_addr host{};
  in_addr dhcp_start{};
  in_addr dns{};
  in6_addr prefix6{};
  in6_addr host6{};
  in6_addr dns6{};
};

StackAddresses parse_and_check(const SlirpNetworkConfig& config) {
  StackAddresses parsed;
  // /30 leaves room for the host, DNS and one guest; slirp wants that much.
  if (config.prefix_length < 8 || config.prefix_length > 29) {
    invalid("prefix length /" + std::to_string(config.prefix_length) +
            " must be between /8 and /29");
  }
  parsed.network = require_ipv4(config.network, "network");
  const std::uint32_t mask = prefix_mask(config.prefix_length);
  parsed.mask.s_addr = htonl(mask);
  const std::uint32_t network = ntohl(parsed.network.s_addr);
  if ((network & ~mask) != 0) {
    invalid("network " + config.network + "/" + std::to_string(config.prefix_length) +
            " has host bits set");
  }
  const auto inside = [&](const std::string& text, const char* field) {
    const in_addr address = require_ipv4(text, field);
    const std::uint32_t value = ntohl(address.s_addr);
    if ((value & mask) != network || (value & ~mask) == 0 || (value & ~mask) == ~mask) {
      invalid(std::string(field) + " " + text + " is not a host address inside " +
              config.network + "/" + std::to_string(config.prefix_length));
    }
    return address;
  };
  parsed.host = inside(config.host, "host address");
  parsed.dhcp_start = inside(config.dhcp_start, "DHCP start");
  parsed.dns = inside(config.dns, "DNS address");
  if (parsed.host.s_addr == parsed.dns.s_addr || parsed.host.s_addr == parsed.dhcp_start.s_addr ||
      parsed.dns.s_addr == parsed.dhcp_start.s_addr) {
    invalid("host, DNS and DHCP start addresses must differ");
  }
  if (config.ipv6) {
    if (config.ipv6_prefix_length < 8 || config.ipv6_prefix_length > 126) {
      invalid("IPv6 prefix length /" + std::to_string(config.ipv6_prefix_length) +
              " must be between /8 and /126");
    }
    parsed.prefix6 = require_ipv6(config.ipv6_prefix, "IPv6 prefix");
    parsed.host6 = require_ipv6(config.ipv6_host, "IPv6 host address");
    parsed.dns6 = require_ipv6(config.ipv6_dns, "IPv6 DNS address");
    if (!same_ipv6_prefix(parsed.host6, parsed.prefix6, config.ipv6_prefix_length) ||
        !same_ipv6_prefix(parsed.dns6, parsed.prefix6, config.ipv6_prefix_length)) {
      invalid("IPv6 host and DNS addresses must be inside " + config.ipv6_prefix + "/" +
              std::to_string(config.ipv6_prefix_length));
    }
  }
  // libslirp keeps 32 characters and sends them verbatim in DHCP option 12.
  const auto check_name = [](const std::string& name, const char* field) {
    if (name.size() > 32 || std::any_of(name.begin(), name.end(), [](char c) {
          return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.');
        })) {
      invalid(std::string(field) + " \"" + name +
              "\" must be at most 32 letters, digits, '-' or '.'");
    }
  };
  check_name(config.guest_hostname, "guest hostname");
  check_name(config.domain_name, "domain name");
  return parsed;
}

// Why binding `address`:`port` fails right now, found by trying it: libslirp
// reports only "failed", and its errno is gone by the time it returns.
int probe_bind_errno(NetProtocol protocol, in_addr address, std::uint16_t port) {
  const UniqueFd probe(::socket(AF_INET, (protocol == NetProtocol::Tcp ? SOCK_STREAM : SOCK_DGRAM) |
                                             SOCK_CLOEXEC,
                                0));
  if (!probe.valid()) {
    return errno;
  }
  const int one = 1;
  ::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as libslirp does
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_addr = address;
  where.sin_port = htons(port);
  if (::bind(probe.get(), reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0) {
    return errno;
  }
  return 0;
}

std::uint32_t to_poll_bits(int slirp_events) {
  std::uint32_t bits = 0;
  if (slirp_events & SLIRP_POLL_IN) bits |= poll_event::readable;
  if (slirp_events & SLIRP_POLL_OUT) bits |= poll_event::writable;
  if (slirp_events & SLIRP_POLL_PRI) bits |= poll_event::urgent;
  if (slirp_events & SLIRP_POLL_ERR) bits |= poll_event::error;
  if (slirp_events & SLIRP_POLL_HUP) bits |= poll_event::hangup;
  return bits;
}

int to_slirp_bits(std::uint32_t bits) {
  int events = 0;
  if (bits & poll_event::readable) events |= SLIRP_POLL_IN;
  if (bits & poll_event::writable) events |= SLIRP_POLL_OUT;
  if (bits & poll_event::urgent) events |= SLIRP_POLL_PRI;
  if (bits & poll_event::error) events |= SLIRP_POLL_ERR;
  if (bits & poll_event::hangup) events |= SLIRP_POLL_HUP;
  return events;
}

// Sets a flag for the duration of a call into libslirp.
class InsideSlirp {
 public:
  explicit InsideSlirp(bool& flag) : flag_(flag) { flag_ = true; }
  ~InsideSlirp() { flag_ = false; }
  InsideSlirp(const InsideSlirp&) = delete;
  InsideSlirp& operator=(const InsideSlirp&) = delete;

 private:
  bool& flag_;
};

struct StateReader {
  std::span<const std::uint8_t> data;
  std::size_t offset = 0;
  bool short_read = false;
};

}  // namespace

// libslirp's callbacks, as one static table (libslirp keeps the pointer).
struct SlirpCallbacks {
  static SlirpBackend& backend(void* opaque) { return *static_cast<SlirpBackend*>(opaque); }

  static ssize_t send_packet(const void* buffer, size_t length, void* opaque) {
    backend(opaque).deliver_to_guest({static_cast<const std::uint8_t*>(buffer), length});
    // A dropped frame is not an I/O error: TCP retransmits, as on a wire.
    return static_cast<ssize_t>(length);
  }
  static void guest_error(const char* message, void* opaque) {
    backend(opaque).report_guest_error(message);
  }
  static std::int64_t clock_get_ns(void*) { return clock_ns(); }
  static void* timer_new_opaque(SlirpTimerId id, void* cb_opaque, void* opaque) {
    return backend(opaque).timers_.create(static_cast<int>(id), cb_opaque);
  }
  static void timer_free(void* timer, void* opaque) { backend(opaque).timers_.destroy(timer); }
  static void timer_mod(void* timer, std::int64_t expire_ms, void* opaque) {
    backend(opaque).timers_.modify(timer, expire_ms);
  }
  // libslirp announces sockets here for hosts that keep per-socket state; we
  // ask for the whole set before every wait instead (prepare_poll).
  static void register_poll_fd(int, void*) {}
  static void unregister_poll_fd(int, void*) {}
  // "A socket can take more data": only matters for guest forwards (unused),
  // and the I/O loop re-plans after every call into libslirp anyway.
  static void notify(void*) {}

  static int add_poll(int fd, int events, void* opaque) {
    SlirpBackend& self = backend(opaque);
    const auto [found, inserted] =
        self.poll_index_by_fd_.try_emplace(fd, static_cast<int>(self.poll_fds_.size()));
    if (inserted) {
      self.poll_fds_.push_back({fd, to_poll_bits(events)});
    } else {
      self.poll_fds_[static_cast<std::size_t>(found->second)].events |= to_poll_bits(events);
    }
    return found->second;
  }
  static int get_revents(int index, void* opaque) {
    const SlirpBackend& self = backend(opaque);
    if (index < 0 || static_cast<std::size_t>(index) >= self.revents_.size()) {
      return 0;
    }
    return to_slirp_bits(self.revents_[static_cast<std::size_t>(index)]);
  }
  static ssize_t write_state(const void* buffer, size_t length, void* opaque) {
    auto& out = *static_cast<std::vector<std::uint8_t>*>(opaque);
    const auto* bytes = static_cast<const std::uint8_t*>(buffer);
    out.insert(out.end(), bytes, bytes + length);
    return static_cast<ssize_t>(length);
  }
  static ssize_t read_state(void* buffer, size_t length, void* opaque) {
    auto& reader = *static_cast<StateReader*>(opaque);
    const std::size_t available = reader.data.size() - reader.offset;
    const std::size_t count = std::min(length, available);
    std::memcpy(buffer, reader.data.data() + reader.offset, count);
    reader.offset += count;
    if (count < length) {
      // libslirp would go on with whatever the buffer held: make it zeros.
      std::memset(static_cast<std::uint8_t*>(buffer) + count, 0, length - count);
      reader.short_read = true;
    }
    return static_cast<ssize_t>(count);
  }

  static constexpr SlirpCb table{
      .send_packet = send_packet,
      .guest_error = guest_error,
      .clock_get_ns = clock_get_ns,
      .timer_new = nullptr,  // superseded by timer_new_opaque (config version 4)
      .timer_free = timer_free,
      .timer_mod = timer_mod,
      .register_poll_fd = register_poll_fd,
      .unregister_poll_fd = unregister_poll_fd,
      .notify = notify,
      .init_completed = nullptr,
      .timer_new_opaque = timer_new_opaque,
  };
};

void SlirpBackend::SlirpDeleter::operator()(Slirp* slirp) const { slirp_cleanup(slirp); }

SlirpBackend::SlirpBackend(SlirpNetworkConfig config, Logger logger)
    : config_(std::move(config)), logger_(std::move(logger)) {
  std::vector<PortForward> requested = std::move(config_.port_forwards);
  config_.port_forwards.clear();
  start_stack();  // validates the config
  for (const PortForward& forward : requested) {
    add_port_forward(forward);
  }
}

SlirpBackend::~SlirpBackend() = default;

void SlirpBackend::start_stack() {
  const StackAddresses addresses = parse_and_check(config_);
  SlirpConfig slirp_config{};
  slirp_config.version = 4;  // 4.7's newest: timer_new_opaque, disable_dhcp
  slirp_config.restricted = config_.isolated ? 1 : 0;
  slirp_config.in_enabled = true;
  slirp_config.vnetwork = addresses.network;
  slirp_config.vnetmask = addresses.mask;
  slirp_config.vhost = addresses.host;
  slirp_config.in6_enabled = config_.ipv6;
  slirp_config.vprefix_addr6 = addresses.prefix6;
  slirp_config.vprefix_len = config_.ipv6_prefix_length;
  slirp_config.vhost6 = addresses.host6;
  slirp_config.vhostname = config_.guest_hostname.empty() ? nullptr : config_.guest_hostname.c_str();
  slirp_config.vdhcp_start = addresses.dhcp_start;
  slirp_config.vnameserver = addresses.dns;
  slirp_config.vnameserver6 = addresses.dns6;
  slirp_config.vdomainname = config_.domain_name.empty() ? nullptr : config_.domain_name.c_str();
  slirp_config.disable_host_loopback = !config_.allow_host_loopback;
  slirp_config.enable_emu = false;  // libslirp's own advice: that code is not safe

  // Free the old instance first: its sockets hold the forwards' host ports.
  slirp_.reset();
  poll_fds_.clear();
  poll_index_by_fd_.clear();
  slirp_.reset(slirp_new(&slirp_config, &SlirpCallbacks::table, this));
  if (!slirp_) {
    throw NetError(NetErrorKind::BackendFailed,
                   "user network: libslirp " + std::string(slirp_version_string()) +
                       " refused the network configuration");
  }
}

void SlirpBackend::set_frame_sink(FrameSink sink) { sink_ = std::move(sink); }

void SlirpBackend::set_interest_listener(std::function<void()> listener) {
  interest_listener_ = std::move(listener);
}

void SlirpBackend::announce_interest_change() const {
  if (interest_listener_) {
    interest_listener_();
  }
}

void SlirpBackend::log(std::string_view message) const {
  if (logger_) {
    logger_(message);
  } else {
    std::fprintf(stderr, "nestbox user network: %.*s\n", static_cast<int>(message.size()),
                 message.data());
  }
}

void SlirpBackend::report_guest_error(std::string_view message) {
  ++stats_.guest_errors;
  if (stats_.guest_errors < guest_errors_logged) {
    log("guest error: " + std::string(message));
  } else if (stats_.guest_errors == guest_errors_logged) {
    log("guest error: " + std::string(message) + " (further guest errors are counted, not logged)");
  }
}

void SlirpBackend::deliver_to_guest(std::span<const std::uint8_t> frame) {
  if (!link_up_ || !sink_ || !sink_(frame)) {
    ++stats_.rx_dropped;
    return;
  }
  ++stats_.rx_frames;
  stats_.rx_bytes += frame.size();
}

void SlirpBackend::send_to_network(std::span<const std::uint8_t> frame) {
  if (inside_slirp_) {
    ++stats_.tx_dropped;
    if (!reentry_logged_) {
      reentry_logged_ = true;
      log("a frame sink sent a frame from inside the network stack; dropped (queue it instead)");
    }
    return;
  }
  if (!link_up_ || frame.size() < ethernet_header_size || frame.size() > max_frame_size) {
    ++stats_.tx_dropped;
    return;
  }
  ++stats_.tx_frames;
  stats_.tx_bytes += frame.size();
  {
    const InsideSlirp inside(inside_slirp_);
    slirp_input(slirp_.get(), frame.data(), static_cast<int>(frame.size()));
  }
  // A guest SYN opens a host socket; a guest ACK can make room to read one.
  announce_interest_change();
}

PollPlan SlirpBackend::prepare_poll() {
  poll_fds_.clear();
  poll_index_by_fd_.clear();
  // libslirp only ever lowers this: to 2 ms for delayed ACKs, 500 ms while
  // TCP connections exist, and it caps it at 1 s.
  std::uint32_t timeout_ms = std::numeric_limits<std::uint32_t>::max();
  const PollClock::time_point now = PollClock::now();
  {
    const InsideSlirp inside(inside_slirp_);
    slirp_pollfds_fill(slirp_.get(), &timeout_ms, SlirpCallbacks::add_poll, this);
  }
  PollPlan plan;
  plan.fds = poll_fds_;
  if (timeout_ms != std::numeric_limits<std::uint32_t>::max()) {
    plan.deadline = now + std::chrono::milliseconds(timeout_ms);
  }
  if (const auto expiry = timers_.next_expiry_ms()) {
    const PollClock::time_point timer_deadline = from_clock_ms(*expiry);
    if (!plan.deadline || timer_deadline < *plan.deadline) {
      plan.deadline = timer_deadline;
    }
  }
  return plan;
}

void SlirpBackend::process(std::span<const PollReady> ready, PollClock::time_point now) {
  revents_.assign(poll_fds_.size(), 0);
  for (const PollReady& entry : ready) {
    if (const auto found = poll_index_by_fd_.find(entry.fd); found != poll_index_by_fd_.end()) {
      revents_[static_cast<std::size_t>(found->second)] |= entry.revents;
    }
  }
  const InsideSlirp inside(inside_slirp_);
  timers_.run_due(to_clock_ms(now), [this](int id, void* cb_opaque) {
    slirp_handle_timer(slirp_.get(), static_cast<SlirpTimerId>(id), cb_opaque);
  });
  // Also runs libslirp's TCP timers, so it is called even when nothing is ready.
  slirp_pollfds_poll(slirp_.get(), 0, SlirpCallbacks::get_revents, this);
  revents_.clear();
}

void SlirpBackend::install_forward(const PortForward& forward) {
  const std::string what = "port forward " + forward.describe();
  if (forward.host_port == 0 || forward.guest_port == 0) {
    throw NetError(NetErrorKind::InvalidConfig, what + ": ports must be between 1 and 65535");
  }
  const auto host_address = parse_ipv4(forward.host_address);
  if (!host_address) {
    throw NetError(NetErrorKind::InvalidConfig,
                   what + ": host address \"" + forward.host_address + "\" is not an IPv4 address");
  }
  in_addr guest_address{};
  if (!forward.guest_address.empty()) {
    const auto parsed = parse_ipv4(forward.guest_address);
    const std::uint32_t mask = prefix_mask(config_.prefix_length);
    const std::uint32_t network = ntohl(require_ipv4(config_.network, "network").s_addr);
    if (!parsed || (ntohl(parsed->s_addr) & mask) != network) {
      throw NetError(NetErrorKind::InvalidConfig,
                     what + ": guest address must be an IPv4 address inside " + config_.network +
                         "/" + std::to_string(config_.prefix_length));
    }
    guest_address = *parsed;
  } else {
    guest_address = require_ipv4(config_.dhcp_start, "DHCP start");
  }
  const bool udp = forward.protocol == NetProtocol::Udp;
  int result = 0;
  {
    const InsideSlirp inside(inside_slirp_);
    result = slirp_add_hostfwd(slirp_.get(), udp ? 1 : 0, *host_address, forward.host_port,
                               guest_address, forward.guest_port);
  }
  if (result == 0) {
    return;
  }
  const int error = probe_bind_errno(forward.protocol, *host_address, forward.host_port);
  const std::string port = format_ipv4(*host_address) + ":" + std::to_string(forward.host_port);
  if (error == EADDRINUSE) {
    throw NetError(NetErrorKind::HostPortInUse,
                   what + ": host port " + port + " (" + std::string(protocol_name(forward.protocol)) +
                       ") is already in use by another program; choose another host port");
  }
  if (error == EACCES || error == EPERM) {
    throw NetError(NetErrorKind::HostPortDenied,
                   what + ": not allowed to listen on " + port +
                       (forward.host_port < 1024 ? " (ports below 1024 need privileges; use 1024 or above)"
                                                 : ""));
  }
  if (error == EADDRNOTAVAIL) {
    throw NetError(NetErrorKind::HostPortFailed,
                   what + ": " + format_ipv4(*host_address) + " is not an address of this host");
  }
  throw NetError(NetErrorKind::HostPortFailed,
                 what + ": could not listen on " + port +
                     (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
}

void SlirpBackend::add_port_forward(const PortForward& forward) {
  for (const PortForward& existing : forwards_) {
    if (existing.protocol == forward.protocol && existing.host_port == forward.host_port &&
        existing.host_address == forward.host_address) {
      throw NetError(NetErrorKind::HostPortInUse,
                     "port forward " + forward.describe() + ": host port " +
                         std::to_string(forward.host_port) + " is already forwarded (" +
                         existing.describe() + ")");
    }
  }
  install_forward(forward);
  forwards_.push_back(forward);
  config_.port_forwards = forwards_;
  announce_interest_change();  // a new listening socket to watch
}

bool SlirpBackend::remove_port_forward(NetProtocol protocol, std::string_view host_address,
                                       std::uint16_t host_port) {
  const auto found = std::find_if(forwards_.begin(), forwards_.end(), [&](const PortForward& f) {
    return f.protocol == protocol && f.host_address == host_address && f.host_port == host_port;
  });
  if (found == forwards_.end()) {
    return false;
  }
  const auto address = parse_ipv4(found->host_address);
  {
    const InsideSlirp inside(inside_slirp_);
    slirp_remove_hostfwd(slirp_.get(), protocol == NetProtocol::Udp ? 1 : 0, *address, host_port);
  }
  forwards_.erase(found);
  config_.port_forwards = forwards_;
  announce_interest_change();
  return true;
}

std::string SlirpBackend::connection_info() {
  char* text = slirp_connection_info(slirp_.get());
  std::string info = text != nullptr ? text : "";
  std::free(text);  // libslirp allocates it with g_malloc, which is malloc since GLib 2.46
  return info;
}

NetBackendState SlirpBackend::save() {
  NetBackendState state;
  state.kind = std::string(state_kind);
  state.version = static_cast<std::uint32_t>(slirp_state_version());
  const InsideSlirp inside(inside_slirp_);
  slirp_state_save(slirp_.get(), SlirpCallbacks::write_state, &state.data);
  return state;
}

void SlirpBackend::restart_clean() {
  start_stack();
  for (const PortForward& forward : forwards_) {
    try {
      install_forward(forward);
    } catch (const NetError& error) {
      // Another program took the port meanwhile; the rest of the network works.
      log(std::string("restart: ") + error.what());
    }
  }
  announce_interest_change();
}

RestoreOutcome SlirpBackend::restore(const NetBackendState& state) {
  // Always a fresh stack: connections of the current run must not survive
  // into the restored one.
  restart_clean();
  const auto link_reset = [this](const std::string& why) {
    log("restore: " + why + "; the network restarted clean (the guest must renew its lease)");
    return RestoreOutcome::LinkReset;
  };
  if (state.kind != state_kind) {
    return link_reset("saved network state is from a \"" + state.kind + "\" backend");
  }
  const auto ours = static_cast<std::uint32_t>(slirp_state_version());
  if (state.version == 0 || state.version > ours || state.data.empty()) {
    return link_reset("saved libslirp state version " + std::to_string(state.version) +
                      " cannot be read by this libslirp (state version " + std::to_string(ours) +
                      ")");
  }
  // The stream starts with the guest-forward sockets, each flagged by a
  // non-zero byte. We create none, so a non-zero byte means foreign or
  // damaged data, which libslirp would half-load.
  if (state.data.front() != 0) {
    return link_reset("saved network state holds connections this backend never makes");
  }
  StateReader reader{state.data};
  int result = 0;
  {
    const InsideSlirp inside(inside_slirp_);
    result = slirp_state_load(slirp_.get(), static_cast<int>(state.version),
                              SlirpCallbacks::read_state, &reader);
  }
  if (result < 0 || reader.short_read) {
    restart_clean();  // drop whatever was half-loaded
    return link_reset("saved network state is damaged (" +
                      std::string(result < 0 ? std::strerror(-result) : "truncated") + ")");
  }
  return RestoreOutcome::Restored;
}

}  // namespace nestbox::net
