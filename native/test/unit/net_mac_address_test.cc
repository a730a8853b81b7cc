#include <doctest/doctest.h>

#include <set>
#include <string>

#include "net/mac_address.h"

using nestbox::net::derive_mac_address;
using nestbox::net::MacAddress;

TEST_CASE("a VM's MAC is derived from its id, stable, locally administered and unicast") {
  const MacAddress mac = derive_mac_address("3f2c9a1e-8d4b-4c55-9e61-0b7a2d9c4f10");
  CHECK(mac == derive_mac_address("3f2c9a1e-8d4b-4c55-9e61-0b7a2d9c4f10"));
  CHECK(mac.is_locally_administered());
  CHECK(mac.is_unicast());
  CHECK(mac.bytes[0] == 0x02);
  // Pinned: guests key leases and interface names on the MAC, so the
  // derivation must never change. Update these only with a migration.
  CHECK(mac.to_string() == "02:c1:13:69:f9:a6");
  CHECK(derive_mac_address("my-vm").to_string() == "02:3d:48:94:92:0d");
  CHECK(derive_mac_address("my-vm", 1).to_string() == "02:13:8a:ce:b9:72");
}

TEST_CASE("different VMs and NICs get different MACs") {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const MacAddress mac = derive_mac_address("vm-" + std::to_string(i));
    CHECK(mac.is_locally_administered());
    CHECK(mac.is_unicast());
    seen.insert(mac.to_string());
  }
  CHECK(seen.size() == 2000);
  CHECK(derive_mac_address("vm-1", 0) != derive_mac_address("vm-1", 1));
  CHECK(derive_mac_address("") != derive_mac_address(" "));
}

TEST_CASE("MAC text round-trips and bad text is refused") {
  const auto parsed = MacAddress::parse("02:AB:cd:00:10:ff");
  REQUIRE(parsed);
  CHECK(parsed->to_string() == "02:ab:cd:00:10:ff");
  CHECK(MacAddress::parse("02-ab-cd-00-10-ff") == parsed);
  CHECK_FALSE(MacAddress::parse(""));
  CHECK_FALSE(MacAddress::parse("02:ab:cd:00:10"));
  CHECK_FALSE(MacAddress::parse("02:ab:cd:00:10:fg"));
  CHECK_FALSE(MacAddress::parse("02:ab-cd:00:10:ff"));
  CHECK_FALSE(MacAddress::parse("02:ab:cd:00:10:ff:"));
  CHECK_FALSE(MacAddress::parse("00:1b:21:12:34:56")->is_locally_administered());  // a vendor OUI
  CHECK_FALSE(MacAddress::parse("03:00:00:00:00:00")->is_unicast());
}
