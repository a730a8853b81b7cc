// The guest's display adapter: a PCI function with QEMU's "bochs-display"
// programming model (1234:1111, the interface Bochs and QEMU's standard VGA
// share), so existing drivers work unchanged: Linux bochs-drm, OVMF's
// QemuVideoDxe, SeaBIOS' VGA BIOS for bochs-display.
//
//   BAR 0  prefetchable 32-bit memory, the whole video memory (linear
//          framebuffer). The machine maps it into the guest as a KVM memory
//          slot (FramebufferMapper) so framebuffer stores cost no exit; until
//          then, or without a mapper (unit tests), accesses arrive as MMIO
//          and read/write the same VRAM.
//   BAR 2  4 KiB MMIO:  0x000 EDID (128 bytes, rest of 0x000-0x3ff zero)
//                       0x400 VGA ports 0x3c0-0x3df (attribute controller,
//                             misc output, input status: what bochs-drm's
//                             blanking uses; the rest read 0, writes vanish)
//                       0x500 DISPI registers, index * 2, 16 bits each
//                       0x600 QEMU extension: size (8) and byte order
//   Ports  0x1ce/0x1cf  DISPI index/data (legacy_dispi_ports(), attached by
//                       the board), for firmware and drivers without BAR 2.
//
// Class code 0x038000 ("other display controller", as QEMU's bochs-display
// uses) rather than 0x030000 (VGA-compatible): a VGA-class function promises
// the legacy VGA resources (0xa0000 window, text mode, the full port set),
// and we implement none of them. Every driver of this model binds by vendor
// and device ID (bochs-drm by ID only; QemuVideoDxe lists 1234:1111 under
// both classes). Revision 2: Linux looks for the extension registers at 0x600
// only from revision 2 on. Subsystem 1af4:1100, what QEMU's devices report.
//
// Threading: DISPI/VGA accesses come from vCPU threads; visible_mode(),
// screenshot_png() and vram() from the display stream. Register state has
// one lock; mode events are delivered one at a time, in order, outside it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "bus/bus_device.h"
#include "bus/pci/pci_function.h"
#include "devices/display/dispi.h"
#include "devices/display/display_mode.h"
#include "devices/display/edid.h"
#include "devices/display/screen_info.h"
#include "devices/display/vram.h"

namespace nestbox::display {

// Implemented by the machine: puts the VRAM into the guest's physical address
// space at BAR 0. Called from the vCPU thread doing the PCI config write (or
// the machine's thread during setup/restore), with the function's config lock
// held: must not call back into the PCI function.
class FramebufferMapper {
 public:
  virtual ~FramebufferMapper() = default;
  // BAR 0 decodes at [guest_address, + size) now: back it with `host`
  // (page-aligned, `size` bytes, valid for the display's lifetime).
  virtual void map_framebuffer(std::uint64_t guest_address, std::uint8_t* host,
                               std::uint64_t size) = 0;
  // It no longer does: remove what map_framebuffer() made there.
  virtual void unmap_framebuffer(std::uint64_t guest_address, std::uint64_t size) = 0;
};

struct BochsDisplayConfig {
  std::uint64_t vram_size = kDefaultVramSize;  // power of two, 1-256 MiB
  EdidConfig edid{};                           // the monitor's preferred mode
};

// The few VGA registers bochs-drm and VGA BIOSes touch.
struct VgaCompatState {
  std::uint8_t misc_output = 0x01;      // colour addressing (input status at 0x3da)
  std::uint8_t attribute_index = 0x20;  // bit 5 (palette address source): picture on
  bool attribute_flip_flop = false;     // true: the next 0x3c0 write is data
  std::array<std::uint8_t, 21> attribute{};
  friend bool operator==(const VgaCompatState&, const VgaCompatState&) = default;
};

// Plain state. The VRAM contents are not in here: the snapshot layer saves
// them like guest RAM (vram()).
struct BochsDisplayState {
  pci::PciFunctionState function;
  std::uint64_t vram_size = 0;
  dispi::Registers dispi{};
  bool big_endian = false;
  std::uint16_t port_index = 0;
  VgaCompatState vga;
  EdidConfig edid;
};

class BochsDisplay : public pci::PciFunction, public std::enable_shared_from_this<BochsDisplay> {
 public:
  // Called with the new visible mode whenever it changes; nullopt when the
  // guest turned the mode off or blanked the screen (show nothing / black).
  using ModeListener = std::function<void(const std::optional<DisplayMode>& mode)>;

  static constexpr std::uint16_t kVendorId = 0x1234;
  static constexpr std::uint16_t kDeviceId = 0x1111;
  static constexpr std::uint8_t kRevision = 2;
  static constexpr std::uint32_t kClassCode = 0x038000;
  static constexpr std::uint16_t kSubsystemVendorId = 0x1af4;
  static constexpr std::uint16_t kSubsystemId = 0x1100;

  static constexpr std::uint8_t kFramebufferBar = 0;
  static constexpr std::uint8_t kMmioBar = 2;
  static constexpr std::uint64_t kMmioBarSize = 0x1000;
  static constexpr std::uint64_t kEdidOffset = 0x000;
  static constexpr std::uint64_t kEdidWindowSize = 0x400;
  static constexpr std::uint64_t kVgaOffset = 0x400;  // port 0x3c0
  static constexpr std::uint16_t kVgaFirstPort = 0x3c0;
  static constexpr std::uint16_t kVgaPortCount = 0x20;
  static constexpr std::uint64_t kDispiOffset = 0x500;
  static constexpr std::uint64_t kQextOffset = 0x600;
  static constexpr std::uint32_t kQextSize = 8;
  static constexpr std::uint64_t kQextByteOrderOffset = 0x604;
  static constexpr std::uint32_t kLittleEndianMagic = 0x1e1e1e1e;
  static constexpr std::uint32_t kBigEndianMagic = 0xbebebebe;

  // Legacy ports: index at 0x1ce, 16-bit data at 0x1cf (which spans 0x1d0).
  static constexpr std::uint16_t kLegacyPortBase = dispi::kIndexPort;
  static constexpr std::uint16_t kLegacyPortCount = 3;

  // Create with std::make_shared (BAR regions refer back weakly). Throws
  // NestboxError (InvalidConfig) for a bad VRAM size or EDID mode,
  // (GuestMemory) when the VRAM cannot be allocated.
  explicit BochsDisplay(const BochsDisplayConfig& config = {});
  ~BochsDisplay() override;

  // Before the guest runs. If BAR 0 already decodes, maps it right away.
  void set_framebuffer_mapper(FramebufferMapper* mapper);
  void set_mode_listener(ModeListener listener);

  // Direct kernel boot: start in a 32-bpp linear mode of width x height, as
  // firmware would have left it (the VRAM is not cleared). Emits a mode event.
  // Throws NestboxError (InvalidConfig) when the mode does not fit.
  void set_initial_mode(std::uint32_t width, std::uint32_t height);
  // The current 32-bpp mode as screen_info wants it, with BAR 0 at
  // `bar0_address`. Throws NestboxError (InvalidState) when the display is not
  // in a little-endian 32-bpp mode.
  [[nodiscard]] FramebufferDescription boot_framebuffer(std::uint64_t bar0_address) const;

  // What the screen shows now (nullopt: off or blanked).
  [[nodiscard]] std::optional<DisplayMode> visible_mode() const;
  // The visible image as PNG; nullopt when nothing is shown.
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> screenshot_png() const;

  // The video memory (for the change tracker, the stream and snapshots).
  // Guest vCPUs write it concurrently: readers see it as a live framebuffer.
  [[nodiscard]] std::span<std::uint8_t> vram() const { return vram_->bytes(); }
  [[nodiscard]] int vram_fd() const { return vram_->fd(); }
  [[nodiscard]] std::uint64_t vram_size() const { return vram_->size(); }
  [[nodiscard]] EdidBlock edid() const;

  // Ports 0x1ce-0x1d0 as a bus device (attach at kLegacyPortBase, length
  // kLegacyPortCount). Holds the display weakly.
  [[nodiscard]] std::shared_ptr<BusDevice> legacy_dispi_ports();

  // BAR 2 accesses, offsets from the BAR (any width; reads of unassigned
  // offsets return 0).
  void mmio_read(std::uint64_t offset, std::span<std::uint8_t> data);
  void mmio_write(std::uint64_t offset, std::span<const std::uint8_t> data);
  // Port accesses, offsets from kLegacyPortBase.
  void port_read(std::uint64_t offset, std::span<std::uint8_t> data);
  void port_write(std::uint64_t offset, std::span<const std::uint8_t> data);

  // BAR 0 started (mapped) or stopped decoding: forwards to the mapper.
  // Reached through route_framebuffer_bar() from the machine's BAR listener.
  void framebuffer_bar_moved(const pci::PciBarMapping& mapping, bool mapped);
  // Where BAR 0 is mapped for the guest through the mapper now, if anywhere.
  [[nodiscard]] std::optional<std::uint64_t> framebuffer_mapped_at() const;

  [[nodiscard]] BochsDisplayState save() const;
  // Throws NestboxError (InvalidState) when the state is for another VRAM
  // size; (InvalidConfig) for an EDID mode we cannot describe. Emits a mode
  // event if the visible mode changes, and re-maps BARs.
  void restore(const BochsDisplayState& state);

 protected:
  std::shared_ptr<BusDevice> bar_region(std::uint8_t index) override;

 private:
  [[nodiscard]] std::optional<DisplayMode> visible_locked() const;
  // Runs `change` on the register state; tells the listener if the visible
  // mode differs afterwards.
  template <typename Change>
  void change_state(Change&& change);
  void apply_effect(const dispi::WriteEffect& effect);  // state lock held

  [[nodiscard]] std::uint8_t mmio_read_byte(std::uint64_t offset);  // state lock held
  [[nodiscard]] std::uint8_t vga_read(std::uint16_t port);          // state lock held
  void vga_write(std::uint16_t port, std::uint8_t value);           // state lock held
  void dispi_write_partial(std::uint16_t index, std::uint64_t first_byte,
                           std::span<const std::uint8_t> bytes);    // state lock held

  std::shared_ptr<Vram> vram_;

  std::mutex event_mutex_;  // outer: one change and its event at a time
  ModeListener listener_;

  mutable std::mutex state_mutex_;
  dispi::DispiRegisters dispi_;
  VgaCompatState vga_;
  std::uint16_t port_index_ = 0;
  std::uint8_t retrace_phase_ = 0;  // input status #1 alternates so polls end
  EdidConfig edid_config_;
  EdidBlock edid_{};

  mutable std::mutex mapper_mutex_;
  FramebufferMapper* mapper_ = nullptr;
  std::optional<pci::PciBarMapping> decoding_;    // BAR 0 as the PCI side has it
  std::optional<std::uint64_t> mapped_at_;        // what the mapper was told
};

// For the machine's PciBarRouter listener: if `mapping` is a BochsDisplay's
// BAR 0, tells that display (which calls its FramebufferMapper) and returns
// true; otherwise returns false and does nothing.
bool route_framebuffer_bar(const pci::PciBarMapping& mapping, bool mapped);

}  // namespace nestbox::display
