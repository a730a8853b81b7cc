#include <doctest/doctest.h>

#include <vector>

#include "net/slirp_timers.h"

using nestbox::net::SlirpTimers;

TEST_CASE("slirp timers: the next expiry is the earliest armed timer") {
  SlirpTimers timers;
  int a_opaque = 0;
  int b_opaque = 0;
  void* a = timers.create(0, &a_opaque);
  void* b = timers.create(0, &b_opaque);
  CHECK_FALSE(timers.next_expiry_ms());  // created unarmed
  timers.modify(a, 500);
  timers.modify(b, 200);
  CHECK(timers.next_expiry_ms() == 200);
  timers.modify(b, 900);  // re-arming replaces the expiry
  CHECK(timers.next_expiry_ms() == 500);
  timers.destroy(a);
  CHECK(timers.next_expiry_ms() == 900);
  timers.destroy(b);
  CHECK(timers.size() == 0);
  timers.destroy(&a_opaque);   // not ours: ignored
  timers.modify(&a_opaque, 1);  // not ours: ignored
  CHECK_FALSE(timers.next_expiry_ms());
}

TEST_CASE("slirp timers: due timers fire once, in a callback that may re-arm or free them") {
  SlirpTimers timers;
  int opaque = 0;
  void* rearming = timers.create(0, &opaque);
  void* freeing = timers.create(0, nullptr);
  void* later = timers.create(0, nullptr);
  timers.modify(rearming, 100);
  timers.modify(freeing, 100);
  timers.modify(later, 1000);

  std::vector<void*> fired;
  const auto fire = [&](int id, void* cb_opaque) {
    CHECK(id == 0);
    if (cb_opaque == &opaque) {
      fired.push_back(rearming);
      timers.modify(rearming, 300);  // as libslirp's RA timer does
    } else {
      fired.push_back(freeing);
      timers.destroy(freeing);
      timers.destroy(later);  // another timer freed before its turn never fires
    }
  };
  timers.run_due(99, fire);
  CHECK(fired.empty());
  timers.run_due(100, fire);
  CHECK(fired.size() == 2);
  CHECK(timers.size() == 1);
  CHECK(timers.next_expiry_ms() == 300);
  timers.run_due(200, fire);
  CHECK(fired.size() == 2);
  timers.run_due(5000, fire);
  CHECK(fired.size() == 3);
  CHECK(timers.next_expiry_ms() == 300);  // its callback re-armed it
}
