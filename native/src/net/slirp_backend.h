// User-mode ("NAT") networking on libslirp: the guest's frames go into a
// TCP/IP stack in our process that turns its connections into ordinary host
// sockets, and answers DHCP, DNS and ARP itself. No privileges, no TAP device.
//
// Threading: not thread-safe. Create it anywhere, then make every call —
// NetBackend, Pollable and the methods below — on the machine's I/O thread
// (libslirp keeps unlocked state, some of it process-global). The FrameSink
// and logger are called on that thread, from inside send_to_network() and
// process().
//
// Snapshots: libslirp saves its DHCP lease table and IP id counter (and
// guest-forward sockets, which we do not use); it does not save open
// connections. So a restore keeps the guest's address, and the guest's old
// TCP connections are reset when it next uses them — as after a NAT reboot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/net_backend.h"
#include "net/slirp_network_config.h"
#include "net/slirp_timers.h"

struct Slirp;  // libslirp's opaque instance; its header stays out of ours

namespace nestbox::net {

class SlirpBackend final : public NetBackend {
 public:
  static constexpr std::string_view state_kind = "slirp";
  // Where guest-caused errors and backend notices go (the VM's log).
  using Logger = std::function<void(std::string_view message)>;

  // Validates the config (NetError InvalidConfig, naming the bad field) and
  // sets up its port forwards (NetError HostPort*, naming the port).
  explicit SlirpBackend(SlirpNetworkConfig config, Logger logger = {});
  ~SlirpBackend() override;
  // libslirp holds a pointer to us.
  SlirpBackend(const SlirpBackend&) = delete;
  SlirpBackend& operator=(const SlirpBackend&) = delete;

  // NetBackend
  void set_frame_sink(FrameSink sink) override;
  void send_to_network(std::span<const std::uint8_t> ethernet_frame) override;
  void set_link_up(bool up) override { link_up_ = up; }
  [[nodiscard]] bool link_up() const override { return link_up_; }
  [[nodiscard]] NetStats stats() const override { return stats_; }
  NetBackendState save() override;
  RestoreOutcome restore(const NetBackendState& state) override;

  // Pollable
  PollPlan prepare_poll() override;
  void process(std::span<const PollReady> ready, PollClock::time_point now) override;
  void set_interest_listener(std::function<void()> listener) override;

  // Host-to-guest forwards, kept across restore. add throws NetError, with
  // HostPortInUse / HostPortDenied when the host port cannot be bound.
  void add_port_forward(const PortForward& forward);
  // False when no such forward exists.
  bool remove_port_forward(NetProtocol protocol, std::string_view host_address,
                           std::uint16_t host_port);
  [[nodiscard]] const std::vector<PortForward>& port_forwards() const { return forwards_; }

  [[nodiscard]] const SlirpNetworkConfig& config() const { return config_; }
  // libslirp's table of open connections, for diagnostics.
  [[nodiscard]] std::string connection_info();

 private:
  friend struct SlirpCallbacks;
  struct SlirpDeleter {
    void operator()(Slirp* slirp) const;
  };

  void start_stack();    // a fresh libslirp instance, no forwards yet
  void restart_clean();  // a fresh instance with our forwards re-installed
  void install_forward(const PortForward& forward);
  void deliver_to_guest(std::span<const std::uint8_t> frame);
  void report_guest_error(std::string_view message);
  void log(std::string_view message) const;
  void announce_interest_change() const;

  SlirpNetworkConfig config_;
  Logger logger_;
  FrameSink sink_;
  std::function<void()> interest_listener_;
  bool link_up_ = true;
  NetStats stats_;
  std::vector<PortForward> forwards_;
  SlirpTimers timers_;

  // The latest prepare_poll(): libslirp refers to its entries by index.
  std::vector<PollRequest> poll_fds_;
  std::unordered_map<int, int> poll_index_by_fd_;
  std::vector<std::uint32_t> revents_;  // by index, during process()

  // True while libslirp runs: a FrameSink that calls send_to_network() from
  // inside it would re-enter libslirp, which it does not support.
  bool inside_slirp_ = false;
  bool reentry_logged_ = false;

  // Last: destroyed first, while the members its cleanup calls back into live.
  std::unique_ptr<Slirp, SlirpDeleter> slirp_;
};

}  // namespace nestbox::net
