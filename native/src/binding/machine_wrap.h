// The JS `Machine` class: owns one native Machine and its event forwarder.
// Holds no VMM logic; it parses arguments, forwards calls and converts errors.
#pragma once

#include <napi.h>

#include <memory>

#include "binding/js_event_forwarder.h"
#include "machine/machine.h"

namespace nestbox::binding {

class MachineWrap : public Napi::ObjectWrap<MachineWrap> {
 public:
  static Napi::Function define_class(Napi::Env env);

  explicit MachineWrap(const Napi::CallbackInfo& info);
  ~MachineWrap() override;

 private:
  using CleanupHook = Napi::Env::CleanupHook<void (*)(MachineWrap*), MachineWrap>;

  Napi::Value start(const Napi::CallbackInfo& info);
  Napi::Value pause(const Napi::CallbackInfo& info);
  Napi::Value resume(const Napi::CallbackInfo& info);
  Napi::Value reset(const Napi::CallbackInfo& info);
  Napi::Value power_button(const Napi::CallbackInfo& info);
  Napi::Value send_serial_input(const Napi::CallbackInfo& info);
  Napi::Value power_off(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);
  Napi::Value state(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value set_display_streaming(const Napi::CallbackInfo& info);
  Napi::Value request_full_display_frame(const Napi::CallbackInfo& info);
  Napi::Value read_display_frame(const Napi::CallbackInfo& info);
  Napi::Value copy_display_rects(const Napi::CallbackInfo& info);
  Napi::Value screenshot(const Napi::CallbackInfo& info);
  Napi::Value send_key(const Napi::CallbackInfo& info);
  Napi::Value send_key_combo(const Napi::CallbackInfo& info);
  Napi::Value pointer_move(const Napi::CallbackInfo& info);
  Napi::Value pointer_button(const Napi::CallbackInfo& info);
  Napi::Value wheel(const Napi::CallbackInfo& info);
  Napi::Value release_all_input(const Napi::CallbackInfo& info);
  Napi::Value save_snapshot(const Napi::CallbackInfo& info);
  Napi::Value restore_snapshot(const Napi::CallbackInfo& info);

  // Joins the vCPU threads and frees the VM; the forwarder is released only
  // when Node is not already tearing it down.
  void close_machine(bool environment_teardown);
  static void close_at_environment_teardown(MachineWrap* wrap);
  // Runs `action` on the machine, turning native errors into JS errors.
  template <typename Action>
  Napi::Value call(const Napi::CallbackInfo& info, Action&& action);

  // Declaration order matters: the machine (and its threads) go before the
  // forwarder they report to.
  std::unique_ptr<JsEventForwarder> events_;
  std::unique_ptr<Machine> machine_;
  CleanupHook cleanup_hook_;
  bool cleanup_hook_registered_ = false;
};

// addon.describeSnapshot({ stateFile, ramFile }): reads and checks a
// snapshot without a machine (Machine's describe_snapshot).
Napi::Value describe_snapshot_js(const Napi::CallbackInfo& info);

}  // namespace nestbox::binding
