// An Ethernet MAC address, and the stable one each VM's NIC gets.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nestbox::net {

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};

  // "02:4e:..." lower-case, colon separated.
  [[nodiscard]] std::string to_string() const;
  // Accepts "aa:bb:cc:dd:ee:ff" or with '-' (either case); nullopt otherwise.
  static std::optional<MacAddress> parse(std::string_view text);

  // Bit 1 of the first octet: not a vendor's (IEEE-assigned) address.
  [[nodiscard]] bool is_locally_administered() const { return (bytes[0] & 0x02) != 0; }
  // Bit 0 of the first octet clear: addresses one station, not a group.
  [[nodiscard]] bool is_unicast() const { return (bytes[0] & 0x01) == 0; }

  friend bool operator==(const MacAddress&, const MacAddress&) = default;
};

// The MAC a VM's first NIC gets, derived from the VM's id so it survives
// restarts, config edits and moves of the VM folder (guests key DHCP leases and
// interface names on it). 02:xx:xx:xx:xx:xx — locally administered, unicast,
// 40 bits of hash, so it never collides with a vendor's address.
// The derivation is a stored format: changing it renames every VM's NIC in its
// guest, so a test pins known values. `nic_index` separates further NICs.
MacAddress derive_mac_address(std::string_view vm_id, std::uint8_t nic_index = 0);

}  // namespace nestbox::net
