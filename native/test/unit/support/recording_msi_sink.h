// An MsiSink that records every message a device sent, for tests that check
// which MSI-X vectors fired.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bus/pci/msi_sink.h"

namespace nestbox::test {

class RecordingMsiSink : public pci::MsiSink {
 public:
  void send_msi(const pci::MsiMessage& message) override { sent.push_back(message); }
  // How many messages carried `data` (a vector's data word).
  [[nodiscard]] std::size_t count(std::uint32_t data) const {
    return static_cast<std::size_t>(std::count_if(
        sent.begin(), sent.end(), [&](const pci::MsiMessage& m) { return m.data == data; }));
  }

  std::vector<pci::MsiMessage> sent;
};

}  // namespace nestbox::test
