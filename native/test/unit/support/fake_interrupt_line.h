// An InterruptLine that records what a device did with it: the current level,
// every level change, and how many edges (pulses or rising levels) it raised.
#pragma once

#include <cstddef>
#include <vector>

#include "devices/interrupt_line.h"

namespace nestbox::test {

class FakeInterruptLine : public InterruptLine {
 public:
  void set_level(bool asserted) override {
    if (asserted && !level) {
      ++rising_edges;
    }
    level = asserted;
    history.push_back(asserted);
  }
  void pulse() override {
    ++pulses;
    ++rising_edges;
    history.push_back(true);
    history.push_back(false);
    level = false;
  }

  bool level = false;
  std::size_t pulses = 0;
  std::size_t rising_edges = 0;
  std::vector<bool> history;
};

}  // namespace nestbox::test
