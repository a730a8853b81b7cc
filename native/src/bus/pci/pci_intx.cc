#include "bus/pci/pci_intx.h"

namespace nestbox::pci {

class WiredOrInterruptLine::Input : public InterruptLine {
 public:
  explicit Input(std::shared_ptr<WiredOrInterruptLine> wire) : wire_(std::move(wire)) {}
  ~Input() override {
    if (asserted_) wire_->change(-1);
  }
  void set_level(bool asserted) override {
    const std::lock_guard lock(mutex_);
    if (asserted == asserted_) return;
    asserted_ = asserted;
    wire_->change(asserted ? 1 : -1);
  }

 private:
  std::shared_ptr<WiredOrInterruptLine> wire_;
  std::mutex mutex_;
  bool asserted_ = false;
};

std::shared_ptr<InterruptLine> WiredOrInterruptLine::make_input() {
  return std::make_shared<Input>(shared_from_this());
}

void WiredOrInterruptLine::change(int delta) {
  const std::lock_guard lock(mutex_);
  const bool was_asserted = asserted_inputs_ > 0;
  asserted_inputs_ += delta;
  const bool is_asserted = asserted_inputs_ > 0;
  if (was_asserted != is_asserted && output_) output_->set_level(is_asserted);
}

}  // namespace nestbox::pci
