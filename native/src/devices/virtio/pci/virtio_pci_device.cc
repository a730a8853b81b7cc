#include "devices/virtio/pci/virtio_pci_device.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "bus/pci/pci_abi.h"
#include "common/nestbox_error.h"
#include "devices/virtio/pci/virtio_pci_abi.h"
#include "devices/virtio/queue/virt_queue_error.h"

namespace nestbox::virtio {

namespace t = pci_transport;

namespace {

// Fields of the common configuration, each applied as a unit. The 64-bit
// queue addresses are two 32-bit halves: drivers may write them that way.
struct CommonField {
  std::uint16_t offset;
  std::uint16_t size;
};
constexpr std::array<CommonField, 19> kCommonFields{{
    {t::kDeviceFeatureSelect, 4}, {t::kDeviceFeature, 4}, {t::kDriverFeatureSelect, 4},
    {t::kDriverFeature, 4},       {t::kConfigMsixVector, 2}, {t::kNumQueues, 2},
    {t::kDeviceStatus, 1},        {t::kConfigGeneration, 1}, {t::kQueueSelect, 2},
    {t::kQueueSize, 2},           {t::kQueueMsixVector, 2},  {t::kQueueEnable, 2},
    {t::kQueueNotifyOff, 2},      {t::kQueueDesc, 4},        {t::kQueueDesc + 4, 4},
    {t::kQueueDriver, 4},         {t::kQueueDriver + 4, 4},  {t::kQueueDevice, 4},
    {t::kQueueDevice + 4, 4},
}};

void put(std::vector<std::uint8_t>& bytes, std::uint16_t offset, std::uint64_t value,
         std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

std::uint32_t get(const std::vector<std::uint8_t>& bytes, std::uint16_t offset, std::size_t size) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < size; ++i) value |= std::uint32_t{bytes[offset + i]} << (8 * i);
  return value;
}

std::uint64_t with_half(std::uint64_t value, bool high, std::uint32_t half) {
  return high ? (value & 0xffff'ffffull) | (std::uint64_t{half} << 32)
              : (value & ~0xffff'ffffull) | half;
}

std::uint32_t class_code_for(std::uint16_t device_type) {
  switch (device_type) {
    case kDeviceTypeNet: return 0x020000;    // Ethernet controller
    case kDeviceTypeBlock: return 0x010000;  // SCSI-class mass storage, as other VMMs report
    case kDeviceTypeInput: return 0x090000;  // input device
    default: return 0xff0000;                // unassigned class
  }
}

std::vector<VirtQueue> make_queues(const VirtioDevice& device) {
  const std::vector<std::uint16_t> sizes = device.queue_max_sizes();
  if (sizes.empty() || sizes.size() > VirtioPciDevice::kMaxQueues) {
    throw NestboxError(ErrorCode::InvalidConfig, "a virtio device needs 1 to 256 queues");
  }
  std::vector<VirtQueue> queues;
  queues.reserve(sizes.size());
  for (std::uint16_t size : sizes) {
    try {
      queues.emplace_back(size);
    } catch (const VirtQueueError& error) {
      throw NestboxError(ErrorCode::InvalidConfig, error.what());
    }
  }
  return queues;
}

std::array<std::uint8_t, 14> virtio_cap_body(std::uint8_t cap_length, std::uint8_t type,
                                             std::uint32_t offset, std::uint32_t length) {
  return {cap_length,
          type,
          VirtioPciDevice::kBar,
          0,  // id
          0,
          0,  // padding
          static_cast<std::uint8_t>(offset),
          static_cast<std::uint8_t>(offset >> 8),
          static_cast<std::uint8_t>(offset >> 16),
          static_cast<std::uint8_t>(offset >> 24),
          static_cast<std::uint8_t>(length),
          static_cast<std::uint8_t>(length >> 8),
          static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 24)};
}

// BAR 0 as a bus device. It holds the transport weakly: the mapping may be
// the last reference during teardown, and an access then reads all ones.
class BarRegion : public BusDevice {
 public:
  explicit BarRegion(std::weak_ptr<VirtioPciDevice> device) : device_(std::move(device)) {}
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    if (auto device = device_.lock()) {
      device->bar_read(offset, data);
    } else {
      std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    }
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    if (auto device = device_.lock()) device->bar_write(offset, data);
  }

 private:
  std::weak_ptr<VirtioPciDevice> device_;
};

}  // namespace

class VirtioPciDevice::Interrupt : public VirtioInterrupt {
 public:
  explicit Interrupt(VirtioPciDevice& owner) : owner_(owner) {}
  void signal_used_queue(std::uint16_t queue) override {
    const std::lock_guard lock(owner_.mutex_);
    owner_.raise_queue_interrupt(queue);
  }
  void signal_config_change() override { owner_.device_config_changed(); }

 private:
  VirtioPciDevice& owner_;
};

VirtioPciDevice::VirtioPciDevice(std::unique_ptr<VirtioDevice> device, const GuestMemory& memory,
                                 std::shared_ptr<pci::MsiSink> msi, Logger log)
    : pci::PciFunction(pci::PciIdentity{
          t::kVendorId, static_cast<std::uint16_t>(t::kDeviceIdBase + device->device_type()),
          t::kRevision, class_code_for(device->device_type()), t::kVendorId,
          static_cast<std::uint16_t>(t::kDeviceIdBase + device->device_type()),
          pci::kInterruptPinIntA}),
      device_(std::move(device)),
      memory_(memory),
      log_(std::move(log)),
      msix_(static_cast<std::uint16_t>(std::min(device_->queue_max_sizes().size(), kMaxQueues) + 1)),
      interrupt_(std::make_unique<Interrupt>(*this)),
      queues_(make_queues(*device_)),
      queue_vectors_(queues_.size(), kNoVector) {
  msix_.set_sink(std::move(msi));
  define_bar(kBar, pci::PciBarDefinition{pci::PciBarKind::Memory64, kBarSize, false});
  pci::PciConfigSpace& space = config();
  const auto add = [&](std::uint8_t type, std::uint64_t offset, std::uint64_t length) {
    const auto body = virtio_cap_body(16, type, static_cast<std::uint32_t>(offset),
                                      static_cast<std::uint32_t>(length));
    space.add_capability(pci::kCapabilityVendorSpecific, body);
  };
  add(t::kCapCommonCfg, kCommonCfgOffset, t::kCommonCfgSize);
  {
    // struct virtio_pci_notify_cap: the common part plus notify_off_multiplier.
    std::array<std::uint8_t, 18> body{};
    const auto common = virtio_cap_body(20, t::kCapNotifyCfg, kNotifyOffset,
                                        static_cast<std::uint32_t>(kNotifyOffMultiplier * queues_.size()));
    std::copy(common.begin(), common.end(), body.begin());
    body[14] = static_cast<std::uint8_t>(kNotifyOffMultiplier);
    space.add_capability(pci::kCapabilityVendorSpecific, body);
  }
  add(t::kCapIsrCfg, kIsrOffset, 1);
  if (device_->config_size() != 0) {
    add(t::kCapDeviceCfg, kDeviceCfgOffset, std::min<std::uint64_t>(device_->config_size(), kRegionSize));
  }
  {
    // struct virtio_pci_cfg_cap: bar, offset, length and the data window are
    // the driver's to write; the window reaches into the BAR.
    std::array<std::uint8_t, 18> body{};
    const auto common = virtio_cap_body(20, t::kCapPciCfg, 0, 0);
    std::copy(common.begin(), common.end(), body.begin());
    pci_cfg_capability_ = space.add_capability(pci::kCapabilityVendorSpecific, body);
    space.set_writable_u8(pci_cfg_capability_ + t::kCapBarField, 0xff);
    space.set_writable_u32(pci_cfg_capability_ + t::kCapOffsetField, 0xffff'ffff);
    space.set_writable_u32(pci_cfg_capability_ + t::kCapLengthField, 0xffff'ffff);
    space.set_writable_u32(pci_cfg_capability_ + t::kCapPciCfgDataField, 0xffff'ffff);
  }
  msix_capability_ = pci::add_msix_capability(
      space, pci::MsixCapabilityLayout{msix_.count(), kBar, static_cast<std::uint32_t>(kMsixTableOffset),
                                       kBar, static_cast<std::uint32_t>(kMsixPbaOffset)});
}

VirtioPciDevice::~VirtioPciDevice() {
  // The device's workers may still be finishing requests that call back into
  // us (run_locked): reset makes them stop touching memory, and destroying the
  // device here, while our members live, joins them.
  {
    const std::lock_guard lock(mutex_);
    if (activated_) device_->reset();
    activated_ = false;
    ++activation_;
  }
  device_.reset();
}

std::shared_ptr<BusDevice> VirtioPciDevice::bar_region(std::uint8_t index) {
  if (index != kBar) return nullptr;
  return std::make_shared<BarRegion>(weak_from_this());
}

std::vector<VirtioNotifyAddress> VirtioPciDevice::notify_addresses(std::uint64_t bar_address) const {
  std::vector<VirtioNotifyAddress> addresses;
  for (std::uint16_t queue = 0; queue < queues_.size(); ++queue) {
    addresses.push_back(VirtioNotifyAddress{queue, bar_address + notify_offset(queue), 2});
  }
  return addresses;
}

std::uint8_t VirtioPciDevice::device_status() const {
  const std::lock_guard lock(mutex_);
  return status_;
}

void VirtioPciDevice::log(std::string_view message) const {
  if (log_) log_(message);
}

std::uint64_t VirtioPciDevice::offered_features() const {
  return device_->device_features() | kFeatureVersion1 | kFeatureEventIdx | kFeatureIndirectDesc;
}

// ---- BAR 0 ----

void VirtioPciDevice::bar_read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), std::uint8_t{0});
  const std::uint64_t region = offset & ~(kRegionSize - 1);
  const std::uint64_t within = offset - region;
  if (within + data.size() > kRegionSize) return;  // straddles two structures
  const std::lock_guard lock(mutex_);
  switch (region) {
    case kCommonCfgOffset: common_read(within, data); break;
    case kIsrOffset:
      if (within == 0 && !data.empty()) {
        // Reading the ISR acknowledges it and lowers INTx (4.1.4.5).
        data[0] = isr_;
        isr_ = 0;
        set_intx_level(false);
      }
      break;
    case kDeviceCfgOffset:
      if (within + data.size() <= device_->config_size()) {
        device_->read_config(static_cast<std::uint32_t>(within), data);
      }
      break;
    case kNotifyOffset: break;  // write-only; reads as zero
    case kMsixTableOffset:
    case kMsixTableOffset + kRegionSize:
      msix_.table_read(offset - kMsixTableOffset, data);
      break;
    case kMsixPbaOffset: msix_.pba_read(within, data); break;
    default: break;
  }
}

void VirtioPciDevice::bar_write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  const std::uint64_t region = offset & ~(kRegionSize - 1);
  const std::uint64_t within = offset - region;
  if (within + data.size() > kRegionSize) return;
  const std::lock_guard lock(mutex_);
  switch (region) {
    case kCommonCfgOffset: common_write(within, data); break;
    case kDeviceCfgOffset:
      if (within + data.size() <= device_->config_size()) {
        device_->write_config(static_cast<std::uint32_t>(within), data);
      }
      break;
    case kNotifyOffset:
      // Without VIRTIO_F_NOTIFICATION_DATA the address says which queue; the
      // value (also the queue index) is not needed.
      if (within % kNotifyOffMultiplier == 0 && within / kNotifyOffMultiplier < queues_.size()) {
        process(static_cast<std::uint16_t>(within / kNotifyOffMultiplier));
      }
      break;
    case kMsixTableOffset:
    case kMsixTableOffset + kRegionSize:
      msix_.table_write(offset - kMsixTableOffset, data);
      break;
    default: break;  // ISR and PBA are read-only
  }
}

// ---- common configuration ----

VirtQueue* VirtioPciDevice::selected_queue() {
  return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
}

std::vector<std::uint8_t> VirtioPciDevice::common_registers() const {
  std::vector<std::uint8_t> bytes(t::kCommonCfgSize, 0);
  const std::uint64_t features = offered_features();
  put(bytes, t::kDeviceFeatureSelect, device_feature_select_, 4);
  put(bytes, t::kDeviceFeature,
      device_feature_select_ == 0   ? features & 0xffff'ffff
      : device_feature_select_ == 1 ? features >> 32
                                    : 0,
      4);
  put(bytes, t::kDriverFeatureSelect, driver_feature_select_, 4);
  put(bytes, t::kDriverFeature,
      driver_feature_select_ == 0   ? driver_features_ & 0xffff'ffff
      : driver_feature_select_ == 1 ? driver_features_ >> 32
                                    : 0,
      4);
  put(bytes, t::kConfigMsixVector, config_vector_, 2);
  put(bytes, t::kNumQueues, queues_.size(), 2);
  put(bytes, t::kDeviceStatus, status_, 1);
  put(bytes, t::kConfigGeneration, config_generation_, 1);
  put(bytes, t::kQueueSelect, queue_select_, 2);
  if (queue_select_ < queues_.size()) {
    const VirtQueue& queue = queues_[queue_select_];
    put(bytes, t::kQueueSize, queue.size(), 2);
    put(bytes, t::kQueueMsixVector, queue_vectors_[queue_select_], 2);
    put(bytes, t::kQueueEnable, queue.ready() ? 1 : 0, 2);
    put(bytes, t::kQueueNotifyOff, queue_select_, 2);
    put(bytes, t::kQueueDesc, queue.descriptor_table(), 8);
    put(bytes, t::kQueueDriver, queue.avail_ring(), 8);
    put(bytes, t::kQueueDevice, queue.used_ring(), 8);
  }
  return bytes;
}

void VirtioPciDevice::common_read(std::uint64_t offset, std::span<std::uint8_t> data) const {
  const std::vector<std::uint8_t> bytes = common_registers();
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < bytes.size() ? bytes[offset + i] : 0;
  }
}

// Any width at any offset: lay the write over the current register image,
// then apply every field it touched, in address order.
void VirtioPciDevice::common_write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> bytes = common_registers();
  for (std::size_t i = 0; i < data.size() && offset + i < bytes.size(); ++i) {
    bytes[offset + i] = data[i];
  }
  for (const CommonField& field : kCommonFields) {
    if (field.offset < offset + data.size() && offset < std::uint64_t{field.offset} + field.size) {
      apply_common_field(field.offset, get(bytes, field.offset, field.size));
    }
  }
}

std::uint16_t VirtioPciDevice::checked_vector(std::uint16_t vector) const {
  // A vector the function does not have reads back as NO_VECTOR: that is how
  // the driver learns the mapping failed (4.1.5.1.2).
  return vector < msix_.count() ? vector : kNoVector;
}

void VirtioPciDevice::apply_common_field(std::uint16_t field, std::uint32_t value) {
  VirtQueue* queue = selected_queue();
  // Queue configuration is frozen once the queue is enabled (4.1.4.3.2).
  const bool queue_configurable = queue != nullptr && !queue->ready();
  switch (field) {
    case t::kDeviceFeatureSelect: device_feature_select_ = value; break;
    case t::kDriverFeatureSelect: driver_feature_select_ = value; break;
    case t::kDriverFeature:
      if ((status_ & kStatusFeaturesOk) == 0 && driver_feature_select_ < 2) {
        driver_features_ = with_half(driver_features_, driver_feature_select_ == 1, value);
      }
      break;
    case t::kConfigMsixVector: config_vector_ = checked_vector(static_cast<std::uint16_t>(value)); break;
    case t::kDeviceStatus: write_status(static_cast<std::uint8_t>(value)); break;
    case t::kQueueSelect: queue_select_ = static_cast<std::uint16_t>(value); break;
    case t::kQueueSize:
      if (queue_configurable) queue->set_size(static_cast<std::uint16_t>(value));
      break;
    case t::kQueueMsixVector:
      if (queue != nullptr) {
        queue_vectors_[queue_select_] = checked_vector(static_cast<std::uint16_t>(value));
      }
      break;
    case t::kQueueEnable:
      // Writing 0 is forbidden to the driver (queue reset is not offered).
      if (queue_configurable && value == 1) {
        queue->set_ring_features((driver_features_ & kFeatureEventIdx) != 0,
                                 (driver_features_ & kFeatureIndirectDesc) != 0);
        try {
          queue->enable(memory_);
        } catch (const VirtQueueError& error) {
          fail("queue " + std::to_string(queue_select_) + " cannot be enabled: " + error.what());
        }
      }
      break;
    case t::kQueueDesc:
    case t::kQueueDesc + 4:
      if (queue_configurable) {
        queue->set_descriptor_table(with_half(queue->descriptor_table(), field != t::kQueueDesc, value));
      }
      break;
    case t::kQueueDriver:
    case t::kQueueDriver + 4:
      if (queue_configurable) {
        queue->set_avail_ring(with_half(queue->avail_ring(), field != t::kQueueDriver, value));
      }
      break;
    case t::kQueueDevice:
    case t::kQueueDevice + 4:
      if (queue_configurable) {
        queue->set_used_ring(with_half(queue->used_ring(), field != t::kQueueDevice, value));
      }
      break;
    default: break;  // read-only fields
  }
}

void VirtioPciDevice::write_status(std::uint8_t value) {
  if (value == 0) {
    reset();
    return;
  }
  const std::uint8_t old = status_;
  // NEEDS_RESET is the device's bit: only a reset clears it.
  std::uint8_t accepted = static_cast<std::uint8_t>((value & ~kStatusNeedsReset) | (old & kStatusNeedsReset));
  if ((accepted & kStatusFeaturesOk) != 0 && (old & kStatusFeaturesOk) == 0) {
    const std::uint64_t unoffered = driver_features_ & ~offered_features();
    if (unoffered != 0 || (driver_features_ & kFeatureVersion1) == 0) {
      // Leaving FEATURES_OK clear is how the device refuses (3.1.1 step 6).
      accepted = static_cast<std::uint8_t>(accepted & ~kStatusFeaturesOk);
      log("virtio: driver features rejected (need VERSION_1, only offered bits)");
    }
  }
  if ((accepted & kStatusDriverOk) != 0 && (accepted & kStatusFeaturesOk) == 0) {
    accepted = static_cast<std::uint8_t>(accepted & ~kStatusDriverOk);
  }
  status_ = accepted;
  if ((accepted & kStatusDriverOk) != 0 && (old & kStatusDriverOk) == 0) {
    activate();
  }
}

VirtioDeviceContext VirtioPciDevice::make_context() {
  RunLocked run_locked = [weak = weak_from_this(),
                          activation = activation_](const std::function<void()>& work) {
    const std::shared_ptr<VirtioPciDevice> self = weak.lock();
    if (!self) return false;
    const std::lock_guard lock(self->mutex_);
    if (!self->activated_ || self->activation_ != activation ||
        (self->status_ & kStatusNeedsReset) != 0) {
      return false;
    }
    try {
      work();
    } catch (const VirtQueueError& error) {
      self->fail(std::string("asynchronous completion: ") + error.what());
    } catch (const NestboxError& error) {
      self->fail(std::string("asynchronous completion: ") + error.what());
    }
    return true;
  };
  return VirtioDeviceContext{&memory_, queues_, interrupt_.get(), driver_features_,
                             std::move(run_locked)};
}

void VirtioPciDevice::activate() {
  if (activated_ || (status_ & kStatusNeedsReset) != 0) return;
  activated_ = true;
  device_->activate(make_context());
  // Buffers made available before DRIVER_OK would otherwise wait for a
  // notification the driver already sent.
  for (std::uint16_t queue = 0; queue < queues_.size(); ++queue) {
    process(queue);
  }
}

void VirtioPciDevice::reset() {
  if (activated_) device_->reset();
  activated_ = false;
  ++activation_;
  for (VirtQueue& queue : queues_) queue.reset();
  std::fill(queue_vectors_.begin(), queue_vectors_.end(), kNoVector);
  status_ = 0;
  isr_ = 0;
  device_feature_select_ = 0;
  driver_feature_select_ = 0;
  driver_features_ = 0;
  queue_select_ = 0;
  config_vector_ = kNoVector;
  set_intx_level(false);
}

// ---- queues and interrupts ----

void VirtioPciDevice::notify_queue(std::uint16_t queue) {
  const std::lock_guard lock(mutex_);
  if (queue < queues_.size()) process(queue);
}

void VirtioPciDevice::process(std::uint16_t queue) {
  if (!activated_ || (status_ & kStatusNeedsReset) != 0 || !queues_[queue].ready()) return;
  try {
    device_->process_queue(queue);
  } catch (const VirtQueueError& error) {
    fail("queue " + std::to_string(queue) + ": " + error.what());
  } catch (const NestboxError& error) {
    // A guest address GuestMemory refused: still the driver's fault.
    fail("queue " + std::to_string(queue) + ": " + error.what());
  }
}

void VirtioPciDevice::fail(std::string_view why) {
  status_ |= kStatusNeedsReset;
  log(std::string("virtio device needs reset: ") + std::string(why));
  raise_config_interrupt();
}

void VirtioPciDevice::device_config_changed() {
  const std::lock_guard lock(mutex_);
  ++config_generation_;
  raise_config_interrupt();
}

void VirtioPciDevice::raise_queue_interrupt(std::uint16_t queue) {
  if (queue >= queues_.size()) return;
  if (msix_.enabled()) {
    if (queue_vectors_[queue] != kNoVector) msix_.notify(queue_vectors_[queue]);
    return;
  }
  isr_ |= t::kIsrQueue;
  set_intx_level(true);
}

void VirtioPciDevice::raise_config_interrupt() {
  if (msix_.enabled()) {
    if (config_vector_ != kNoVector) msix_.notify(config_vector_);
    return;
  }
  isr_ |= t::kIsrConfig;
  set_intx_level(true);
}

// ---- PCI config space hooks (config lock held) ----

void VirtioPciDevice::after_config_write(std::uint16_t offset, std::size_t size) {
  const std::uint16_t control = static_cast<std::uint16_t>(msix_capability_ + pci::kMsixMessageControlOffset);
  if (offset < control + 2 && control < offset + size) {
    msix_.set_control(config_locked().u16(control));
  }
  const std::uint16_t window = static_cast<std::uint16_t>(pci_cfg_capability_ + t::kCapPciCfgDataField);
  if (offset < window + 4 && window < offset + size) {
    const pci::PciConfigSpace& space = config_locked();
    const std::uint32_t length = space.u32(pci_cfg_capability_ + t::kCapLengthField);
    const std::uint32_t bar_offset = space.u32(pci_cfg_capability_ + t::kCapOffsetField);
    if (space.u8(pci_cfg_capability_ + t::kCapBarField) == kBar &&
        (length == 1 || length == 2 || length == 4) && bar_offset + std::uint64_t{length} <= kBarSize) {
      std::array<std::uint8_t, 4> bytes{};
      for (std::uint32_t i = 0; i < length; ++i) bytes[i] = space.u8(static_cast<std::uint16_t>(window + i));
      bar_write(bar_offset, std::span<const std::uint8_t>(bytes.data(), length));
    }
  }
}

void VirtioPciDevice::after_config_read(std::uint16_t offset, std::span<std::uint8_t> data) {
  const std::uint16_t window = static_cast<std::uint16_t>(pci_cfg_capability_ + t::kCapPciCfgDataField);
  if (!(offset < window + 4 && window < offset + data.size())) return;
  const pci::PciConfigSpace& space = config_locked();
  const std::uint32_t length = space.u32(pci_cfg_capability_ + t::kCapLengthField);
  const std::uint32_t bar_offset = space.u32(pci_cfg_capability_ + t::kCapOffsetField);
  if (space.u8(pci_cfg_capability_ + t::kCapBarField) != kBar ||
      !(length == 1 || length == 2 || length == 4) || bar_offset + std::uint64_t{length} > kBarSize) {
    return;
  }
  std::array<std::uint8_t, 4> bytes{};
  bar_read(bar_offset, std::span<std::uint8_t>(bytes.data(), length));
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::size_t at = offset + i;
    if (at >= window && at < window + 4u) data[i] = bytes[at - window];
  }
}

// ---- snapshots ----

VirtioPciState VirtioPciDevice::save() const {
  VirtioPciState state;
  state.function = save_function();
  state.msix = msix_.save();
  const std::lock_guard lock(mutex_);
  state.status = status_;
  state.config_generation = config_generation_;
  state.isr = isr_;
  state.device_feature_select = device_feature_select_;
  state.driver_feature_select = driver_feature_select_;
  state.driver_features = driver_features_;
  state.queue_select = queue_select_;
  state.config_msix_vector = config_vector_;
  for (std::size_t i = 0; i < queues_.size(); ++i) {
    state.queues.push_back(VirtioPciQueueState{queues_[i].save(), queue_vectors_[i]});
  }
  return state;
}

void VirtioPciDevice::restore(const VirtioPciState& state) {
  if (state.queues.size() != queues_.size()) {
    throw NestboxError(ErrorCode::InvalidConfig, "virtio snapshot has a different queue count");
  }
  restore_function(state.function);
  msix_.restore(state.msix);
  const std::lock_guard lock(mutex_);
  if (activated_) device_->reset();
  activated_ = false;
  status_ = state.status;
  config_generation_ = state.config_generation;
  isr_ = state.isr;
  device_feature_select_ = state.device_feature_select;
  driver_feature_select_ = state.driver_feature_select;
  driver_features_ = state.driver_features;
  queue_select_ = state.queue_select;
  config_vector_ = checked_vector(state.config_msix_vector);
  for (std::size_t i = 0; i < queues_.size(); ++i) {
    queue_vectors_[i] = checked_vector(state.queues[i].msix_vector);
    try {
      queues_[i].restore(state.queues[i].queue, memory_);
    } catch (const VirtQueueError& error) {
      queues_[i].reset();
      fail("restored queue " + std::to_string(i) + ": " + error.what());
    }
  }
  if ((status_ & kStatusDriverOk) != 0 && (status_ & kStatusNeedsReset) == 0) {
    activated_ = true;
    device_->activate(make_context());
  }
}

}  // namespace nestbox::virtio
