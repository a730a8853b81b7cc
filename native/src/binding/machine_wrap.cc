#include "binding/machine_wrap.h"

#include <exception>

#include "binding/js_errors.h"
#include "binding/machine_config_from_js.h"

namespace nestbox::binding {

Napi::Function MachineWrap::define_class(Napi::Env env) {
  return DefineClass(env, "Machine",
                     {
                         InstanceMethod<&MachineWrap::start>("start"),
                         InstanceMethod<&MachineWrap::pause>("pause"),
                         InstanceMethod<&MachineWrap::resume>("resume"),
                         InstanceMethod<&MachineWrap::reset>("reset"),
                         InstanceMethod<&MachineWrap::power_button>("powerButton"),
                         InstanceMethod<&MachineWrap::send_serial_input>("sendSerialInput"),
                         InstanceMethod<&MachineWrap::power_off>("powerOff"),
                         InstanceMethod<&MachineWrap::close>("close"),
                         InstanceMethod<&MachineWrap::stats>("stats"),
                         InstanceAccessor<&MachineWrap::state>("state"),
                     });
}

MachineWrap::MachineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MachineWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "new Machine(config, onEvent): onEvent must be a function");
  }
  const MachineConfig config = machine_config_from_js(info[0]);
  events_ = std::make_unique<JsEventForwarder>(env, info[1].As<Napi::Function>());
  try {
    machine_ = std::make_unique<Machine>(config, *events_);
  } catch (const std::exception& error) {
    events_->release();
    throw to_js_error(env, error);
  }
  // Registered after the forwarder's function, so at teardown this hook runs
  // before Node finalizes that function (hooks run in reverse order).
  cleanup_hook_ = env.AddCleanupHook(&MachineWrap::close_at_environment_teardown, this);
  cleanup_hook_registered_ = true;
}

MachineWrap::~MachineWrap() {
  // A safety net only: JS is expected to call close().
  close_machine(false);
}

void MachineWrap::close_at_environment_teardown(MachineWrap* wrap) {
  wrap->cleanup_hook_registered_ = false;  // Node frees the hook after this call
  wrap->close_machine(true);
}

void MachineWrap::close_machine(bool environment_teardown) {
  if (cleanup_hook_registered_) {
    cleanup_hook_registered_ = false;
    cleanup_hook_.Remove(Env());
  }
  if (machine_) {
    machine_->close();
  }
  if (events_) {
    if (environment_teardown) {
      events_->abandon();
    } else {
      events_->release();
    }
  }
}

Napi::Value MachineWrap::start(const Napi::CallbackInfo& info) {
  try {
    machine_->start();
  } catch (const std::exception& error) {
    throw to_js_error(info.Env(), error);
  }
  events_->keep_process_alive(info.Env(), true);
  return info.Env().Undefined();
}

template <typename Action>
Napi::Value MachineWrap::call(const Napi::CallbackInfo& info, Action&& action) {
  try {
    action();
  } catch (const std::exception& error) {
    throw to_js_error(info.Env(), error);
  }
  return info.Env().Undefined();
}

Napi::Value MachineWrap::pause(const Napi::CallbackInfo& info) {
  return call(info, [this] { machine_->pause(); });
}

Napi::Value MachineWrap::resume(const Napi::CallbackInfo& info) {
  return call(info, [this] { machine_->resume(); });
}

Napi::Value MachineWrap::reset(const Napi::CallbackInfo& info) {
  return call(info, [this] { machine_->reset(); });
}

Napi::Value MachineWrap::power_button(const Napi::CallbackInfo& info) {
  return call(info, [this] { machine_->press_power_button(); });
}

Napi::Value MachineWrap::send_serial_input(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "sendSerialInput(data): data must be a Uint8Array");
  }
  const Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  std::size_t accepted = 0;
  call(info, [&] { accepted = machine_->send_serial_input({data.Data(), data.ElementLength()}); });
  return Napi::Number::New(info.Env(), static_cast<double>(accepted));
}

Napi::Value MachineWrap::power_off(const Napi::CallbackInfo& info) {
  machine_->power_off();
  return info.Env().Undefined();
}

Napi::Value MachineWrap::close(const Napi::CallbackInfo& info) {
  close_machine(false);
  return info.Env().Undefined();
}

Napi::Value MachineWrap::state(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), std::string(machine_state_name(machine_->state())));
}

Napi::Value MachineWrap::stats(const Napi::CallbackInfo& info) {
  const MachineStats stats = machine_->stats();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("unknownPortReads", static_cast<double>(stats.ports.unknown_reads));
  result.Set("unknownPortWrites", static_cast<double>(stats.ports.unknown_writes));
  result.Set("unknownMmioReads", static_cast<double>(stats.mmio.unknown_reads));
  result.Set("unknownMmioWrites", static_cast<double>(stats.mmio.unknown_writes));
  result.Set("serialBytesOut", static_cast<double>(stats.serial_bytes_out));
  result.Set("resets", static_cast<double>(stats.resets));
  return result;
}

}  // namespace nestbox::binding
