// PollableDriver: a pollable's changing fd set and deadline behind one fd, as
// the I/O thread will watch it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "common/unique_fd.h"
#include "net/pollable_driver.h"
#include "net/slirp_backend.h"
#include "support/net_frames.h"

using namespace std::chrono_literals;
using nestbox::UniqueFd;
using nestbox::net::PollableDriver;
using nestbox::net::PollClock;
using nestbox::net::PollPlan;
using nestbox::net::PollReady;
using nestbox::net::PollRequest;
namespace poll_event = nestbox::net::poll_event;

namespace {

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  void signal() const { REQUIRE(::write(write_end.get(), "x", 1) == 1); }
  void drain() const {
    char buffer[16];
    while (::read(read_end.get(), buffer, sizeof buffer) > 0) {
    }
  }
};

// A pollable whose plan the test sets, recording what the driver does.
class ScriptedPollable final : public nestbox::net::Pollable {
 public:
  PollPlan plan;
  int prepare_calls = 0;
  std::vector<std::vector<PollReady>> processed;
  std::function<void()> listener;

  PollPlan prepare_poll() override {
    ++prepare_calls;
    return plan;
  }
  void process(std::span<const PollReady> ready, PollClock::time_point) override {
    processed.emplace_back(ready.begin(), ready.end());
  }
  void set_interest_listener(std::function<void()> l) override { listener = std::move(l); }
};

bool readable(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, timeout_ms) == 1;
}

}  // namespace

TEST_CASE("pollable driver: one fd is readable exactly when a planned fd is ready") {
  Pipe a;
  Pipe b;
  ScriptedPollable target;
  target.plan.fds = {{a.read_end.get(), poll_event::readable}, {b.read_end.get(), poll_event::readable}};
  PollableDriver driver(target);
  CHECK(target.listener);
  CHECK(driver.watched_fd_count() == 2);
  CHECK_FALSE(readable(driver.fd(), 0));

  b.signal();
  REQUIRE(readable(driver.fd(), 1000));
  driver.dispatch();
  REQUIRE(target.processed.size() == 1);
  REQUIRE(target.processed[0].size() == 1);
  CHECK(target.processed[0][0].fd == b.read_end.get());
  CHECK((target.processed[0][0].revents & poll_event::readable) != 0);

  // The pollable stops asking for b (say, its buffer is full): b no longer wakes us.
  target.plan.fds = {{a.read_end.get(), poll_event::readable}};
  target.listener();
  CHECK(driver.watched_fd_count() == 1);
  CHECK_FALSE(readable(driver.fd(), 0));
  b.drain();
  a.signal();
  REQUIRE(readable(driver.fd(), 1000));
  driver.dispatch();
  CHECK(target.processed.back().at(0).fd == a.read_end.get());
}

TEST_CASE("pollable driver: the deadline wakes it with nothing ready") {
  ScriptedPollable target;
  target.plan.deadline = PollClock::now() + 30ms;
  PollableDriver driver(target);
  CHECK_FALSE(readable(driver.fd(), 0));
  REQUIRE(readable(driver.fd(), 2000));
  CHECK(PollClock::now() >= *target.plan.deadline);
  target.plan.deadline.reset();  // nothing more to wait for
  driver.dispatch();
  REQUIRE(target.processed.size() == 1);
  CHECK(target.processed[0].empty());
  CHECK_FALSE(readable(driver.fd(), 50));

  // A deadline already past fires at once.
  target.plan.deadline = PollClock::now() - 1s;
  driver.sync();
  CHECK(readable(driver.fd(), 1000));
}

TEST_CASE("pollable driver: a closed fd whose number is reused is re-registered") {
  ScriptedPollable target;
  auto first = std::make_unique<Pipe>();
  const int number = first->read_end.get();
  target.plan.fds = {{number, poll_event::readable}};
  PollableDriver driver(target);
  first.reset();  // closing removes it from the epoll set behind our back
  Pipe second;    // lowest free numbers: likely the same ones
  if (second.read_end.get() == number) {
    target.plan.fds = {{number, poll_event::readable | poll_event::hangup}};
    driver.sync();  // MOD fails with ENOENT, falls back to ADD
    second.signal();
    CHECK(readable(driver.fd(), 1000));
  }
  // The destructor hands the listener back empty.
}

TEST_CASE("pollable driver: the user network's DHCP works through the driver's one fd") {
  using namespace nestbox::test::net;
  nestbox::net::SlirpBackend backend(nestbox::net::SlirpNetworkConfig{}, [](std::string_view) {});
  std::vector<Bytes> received;
  backend.set_frame_sink([&](std::span<const std::uint8_t> frame) {
    received.emplace_back(frame.begin(), frame.end());
    return true;
  });
  {
    PollableDriver driver(backend);
    const MacAddress mac{{0x02, 0, 0, 0, 0, 9}};
    backend.send_to_network(build_dhcp_discover(mac, 77));
    const auto give_up = PollClock::now() + 5s;
    const auto offered = [&] {
      for (const Bytes& frame : received) {
        if (const auto reply = parse_dhcp_reply(frame); reply && reply->type == DhcpType::Offer) {
          return true;
        }
      }
      return false;
    };
    // slirp answers DHCP synchronously; drive the loop anyway, as the I/O thread would.
    while (!offered() && PollClock::now() < give_up) {
      if (readable(driver.fd(), 50)) {
        driver.dispatch();
      }
    }
    CHECK(offered());
    // Idle, libslirp still wants a wake-up within a second (its housekeeping).
    CHECK(readable(driver.fd(), 1500));
    driver.dispatch();
  }
}
