#include "binding/machine_wrap.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "binding/js_errors.h"
#include "binding/js_event_forwarder.h"
#include "binding/js_numbers.h"
#include "binding/machine_config_from_js.h"
#include "common/nestbox_error.h"

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
                         InstanceMethod<&MachineWrap::set_display_streaming>("setDisplayStreaming"),
                         InstanceMethod<&MachineWrap::request_full_display_frame>(
                             "requestFullDisplayFrame"),
                         InstanceMethod<&MachineWrap::read_display_frame>("readDisplayFrame"),
                         InstanceMethod<&MachineWrap::copy_display_rects>("copyDisplayRects"),
                         InstanceMethod<&MachineWrap::screenshot>("screenshot"),
                         InstanceMethod<&MachineWrap::send_key>("sendKey"),
                         InstanceMethod<&MachineWrap::send_key_combo>("sendKeyCombo"),
                         InstanceMethod<&MachineWrap::pointer_move>("pointerMove"),
                         InstanceMethod<&MachineWrap::pointer_button>("pointerButton"),
                         InstanceMethod<&MachineWrap::wheel>("wheel"),
                         InstanceMethod<&MachineWrap::release_all_input>("releaseAllInput"),
                         InstanceMethod<&MachineWrap::save_snapshot>("saveSnapshot"),
                         InstanceMethod<&MachineWrap::restore_snapshot>("restoreSnapshot"),
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

// ---- display ----

namespace {

[[noreturn]] void type_error(const Napi::CallbackInfo& info, const std::string& message) {
  throw Napi::TypeError::New(info.Env(), message);
}

// A whole number argument within [min, max].
std::int64_t integer_argument(const Napi::CallbackInfo& info, std::size_t index, const char* usage,
                              double min, double max) {
  const std::optional<double> value =
      info.Length() > index ? whole_number_within(info[index], min, max) : std::nullopt;
  if (!value) type_error(info, usage);
  return static_cast<std::int64_t>(*value);
}

bool boolean_argument(const Napi::CallbackInfo& info, std::size_t index, const char* usage) {
  if (info.Length() <= index || !info[index].IsBoolean()) type_error(info, usage);
  return info[index].As<Napi::Boolean>().Value();
}

std::string string_argument(const Napi::CallbackInfo& info, std::size_t index, const char* usage) {
  if (info.Length() <= index || !info[index].IsString()) type_error(info, usage);
  return info[index].As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Value MachineWrap::set_display_streaming(const Napi::CallbackInfo& info) {
  const bool on = boolean_argument(info, 0, "setDisplayStreaming(on): on must be a boolean");
  machine_->set_display_streaming(on);
  return info.Env().Undefined();
}

Napi::Value MachineWrap::request_full_display_frame(const Napi::CallbackInfo& info) {
  machine_->request_full_display_frame();
  return info.Env().Undefined();
}

Napi::Value MachineWrap::read_display_frame(const Napi::CallbackInfo& info) {
  std::optional<Machine::Frame> frame;
  call(info, [&] { frame = machine_->read_display_frame(); });
  if (!frame) return info.Env().Null();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("mode", display_mode_value(info.Env(), frame->mode));
  Napi::Uint8Array pixels = Napi::Uint8Array::New(info.Env(), frame->pixels.size());
  std::copy(frame->pixels.begin(), frame->pixels.end(), pixels.Data());
  result.Set("pixels", pixels);
  return result;
}

Napi::Value MachineWrap::copy_display_rects(const Napi::CallbackInfo& info) {
  static constexpr const char* kUsage =
      "copyDisplayRects(target, rects): a Uint8Array of the frame's size and a Uint32Array of "
      "x, y, width, height quadruples";
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) {
    type_error(info, kUsage);
  }
  const Napi::TypedArray target_array = info[0].As<Napi::TypedArray>();
  const Napi::TypedArray rects_array = info[1].As<Napi::TypedArray>();
  if (target_array.TypedArrayType() != napi_uint8_array ||
      rects_array.TypedArrayType() != napi_uint32_array ||
      rects_array.ElementLength() % 4 != 0) {
    type_error(info, kUsage);
  }
  Napi::Uint8Array target = target_array.As<Napi::Uint8Array>();
  const Napi::Uint32Array quads = rects_array.As<Napi::Uint32Array>();
  std::vector<display::DirtyRect> rects(quads.ElementLength() / 4);
  for (std::size_t i = 0; i < rects.size(); ++i) {
    rects[i] = display::DirtyRect{quads[i * 4], quads[i * 4 + 1], quads[i * 4 + 2], quads[i * 4 + 3]};
  }
  bool copied = false;
  call(info, [&] {
    copied = machine_->copy_display_rects(
        std::span<std::uint8_t>(target.Data(), target.ElementLength()), rects);
  });
  return Napi::Boolean::New(info.Env(), copied);
}

Napi::Value MachineWrap::screenshot(const Napi::CallbackInfo& info) {
  std::optional<std::vector<std::uint8_t>> png;
  call(info, [&] { png = machine_->screenshot_png(); });
  if (!png) return info.Env().Null();
  Napi::Uint8Array bytes = Napi::Uint8Array::New(info.Env(), png->size());
  std::copy(png->begin(), png->end(), bytes.Data());
  return bytes;
}

// ---- input ----

Napi::Value MachineWrap::send_key(const Napi::CallbackInfo& info) {
  static constexpr const char* kUsage = "sendKey(code, pressed): a KeyboardEvent.code and a boolean";
  const std::string code = string_argument(info, 0, kUsage);
  const bool pressed = boolean_argument(info, 1, kUsage);
  return Napi::Boolean::New(info.Env(), machine_->input().key(code, pressed));
}

Napi::Value MachineWrap::send_key_combo(const Napi::CallbackInfo& info) {
  static constexpr const char* kUsage = "sendKeyCombo(codes): an array of KeyboardEvent.code names";
  if (info.Length() < 1 || !info[0].IsArray()) type_error(info, kUsage);
  const Napi::Array array = info[0].As<Napi::Array>();
  std::vector<std::string> codes;
  for (std::uint32_t i = 0; i < array.Length(); ++i) {
    if (!array.Get(i).IsString()) type_error(info, kUsage);
    codes.push_back(array.Get(i).As<Napi::String>().Utf8Value());
  }
  const std::vector<std::string_view> views(codes.begin(), codes.end());
  return Napi::Boolean::New(info.Env(), machine_->input().key_combo(views));
}

Napi::Value MachineWrap::pointer_move(const Napi::CallbackInfo& info) {
  static constexpr const char* kUsage = "pointerMove(x, y): whole numbers of framebuffer pixels";
  const std::int64_t x = integer_argument(info, 0, kUsage, -1e9, 1e9);
  const std::int64_t y = integer_argument(info, 1, kUsage, -1e9, 1e9);
  return Napi::Boolean::New(info.Env(), machine_->input().pointer_move(x, y));
}

Napi::Value MachineWrap::pointer_button(const Napi::CallbackInfo& info) {
  static constexpr const char* kUsage =
      "pointerButton(button, pressed): a MouseEvent.button (0-4) and a boolean";
  const auto button = input::pointer_button_from_dom(
      static_cast<int>(integer_argument(info, 0, kUsage, 0, 4)));
  const bool pressed = boolean_argument(info, 1, kUsage);
  if (!button) type_error(info, kUsage);
  return Napi::Boolean::New(info.Env(), machine_->input().pointer_button(*button, pressed));
}

Napi::Value MachineWrap::wheel(const Napi::CallbackInfo& info) {
  static constexpr const char* kUsage = "wheel(dx, dy): whole numbers of wheel detents";
  const auto dx = static_cast<std::int32_t>(integer_argument(info, 0, kUsage, -1000, 1000));
  const auto dy = static_cast<std::int32_t>(integer_argument(info, 1, kUsage, -1000, 1000));
  return Napi::Boolean::New(info.Env(), machine_->input().wheel(dx, dy));
}

Napi::Value MachineWrap::release_all_input(const Napi::CallbackInfo& info) {
  machine_->input().release_all();
  return info.Env().Undefined();
}

namespace {

struct SaveProgress {
  std::uint64_t done;
  std::uint64_t total;
};

// Machine::save_snapshot off the JS thread (it writes all of guest RAM).
// Progress reaches `on_progress` throttled by N-API (the latest value wins),
// and the wrap object is referenced until the save ends so the machine it
// owns cannot be collected under it.
class SaveSnapshotWorker : public Napi::AsyncProgressWorker<SaveProgress> {
 public:
  SaveSnapshotWorker(Napi::Env env, Napi::Object wrap, Machine& machine, SnapshotFiles files,
                     Napi::Function on_progress)
      : Napi::AsyncProgressWorker<SaveProgress>(env, "nestbox-save-snapshot"),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(Napi::Persistent(wrap)),
        machine_(machine),
        files_(std::move(files)) {
    if (!on_progress.IsEmpty()) on_progress_ = Napi::Persistent(on_progress);
  }

  [[nodiscard]] Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      result_ = machine_.save_snapshot(files_, [&progress](std::uint64_t done, std::uint64_t total) {
        const SaveProgress value{done, total};
        progress.Send(&value, 1);
      });
    } catch (const std::exception& error) {
      failure_ = std::current_exception();
      SetError(error.what());
    }
  }

  void OnProgress(const SaveProgress* data, size_t count) override {
    if (on_progress_.IsEmpty() || count == 0) return;
    const Napi::Env env = Env();
    on_progress_.Call({Napi::Number::New(env, static_cast<double>(data[count - 1].done)),
                       Napi::Number::New(env, static_cast<double>(data[count - 1].total))});
  }

  void OnOK() override {
    const Napi::Env env = Env();
    Napi::Object value = Napi::Object::New(env);
    value.Set("ramBytes", static_cast<double>(result_.ram_size));
    value.Set("ramBytesWritten", static_cast<double>(result_.ram_bytes_written));
    value.Set("stateBytes", static_cast<double>(result_.state_bytes));
    deferred_.Resolve(value);
  }

  void OnError(const Napi::Error& error) override {
    if (!failure_) {
      deferred_.Reject(error.Value());
      return;
    }
    try {
      std::rethrow_exception(failure_);
    } catch (const std::exception& native) {
      deferred_.Reject(to_js_error(Env(), native).Value());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference wrap_;
  Napi::FunctionReference on_progress_;
  Machine& machine_;
  SnapshotFiles files_;
  SnapshotSaveResult result_;
  std::exception_ptr failure_;
};

// Machine::restore_snapshot off the JS thread: it maps files and waits for
// the machine's I/O thread to swap boards.
class RestoreSnapshotWorker : public Napi::AsyncWorker {
 public:
  RestoreSnapshotWorker(Napi::Env env, Napi::Object wrap, Machine& machine, SnapshotSource source,
                        std::vector<DiskConfig> disks)
      : Napi::AsyncWorker(env, "nestbox-restore-snapshot"),
        deferred_(Napi::Promise::Deferred::New(env)),
        wrap_(Napi::Persistent(wrap)),
        machine_(machine),
        source_(std::move(source)),
        disks_(std::move(disks)) {}

  [[nodiscard]] Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      machine_.restore_snapshot(source_, disks_);
    } catch (const std::exception& error) {
      failure_ = std::current_exception();
      SetError(error.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& error) override { reject_with(deferred_, failure_, error); }

 private:
  static void reject_with(Napi::Promise::Deferred& deferred, const std::exception_ptr& failure,
                          const Napi::Error& error) {
    if (!failure) {
      deferred.Reject(error.Value());
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& native) {
      deferred.Reject(to_js_error(error.Env(), native).Value());
    }
  }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference wrap_;
  Machine& machine_;
  SnapshotSource source_;
  std::vector<DiskConfig> disks_;
  std::exception_ptr failure_;
};

std::string string_field(const Napi::Object& object, const char* method, const char* name,
                         bool optional = false) {
  const Napi::Value value = object.Get(name);
  if (optional && value.IsUndefined()) return {};
  if (!value.IsString() || value.As<Napi::String>().Utf8Value().empty()) {
    throw Napi::TypeError::New(object.Env(), std::string(method) + ": " + name +
                                                 " must be a non-empty string");
  }
  return value.As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Value MachineWrap::save_snapshot(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "saveSnapshot({ stateFile, ramFile }, onProgress?)");
  }
  const Napi::Object files = info[0].As<Napi::Object>();
  SnapshotFiles paths{string_field(files, "saveSnapshot", "stateFile"),
                      string_field(files, "saveSnapshot", "ramFile")};
  Napi::Function on_progress;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "saveSnapshot: onProgress must be a function");
    on_progress = info[1].As<Napi::Function>();
  }
  if (!machine_ || machine_->closed()) {
    throw to_js_error(env, NestboxError(ErrorCode::InvalidState, "the machine is closed"));
  }
  // Owned by N-API once queued: it deletes itself after OnOK/OnError.
  auto* worker = new SaveSnapshotWorker(env, Value(), *machine_, std::move(paths), on_progress);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value MachineWrap::restore_snapshot(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "restoreSnapshot({ stateFile, ramFile? }, disks)");
  }
  const Napi::Object files = info[0].As<Napi::Object>();
  SnapshotSource source{string_field(files, "restoreSnapshot", "stateFile"),
                        string_field(files, "restoreSnapshot", "ramFile", true)};
  std::vector<DiskConfig> disks = disks_from_js(info[1]);
  if (!machine_ || machine_->closed()) {
    throw to_js_error(env, NestboxError(ErrorCode::InvalidState, "the machine is closed"));
  }
  // Owned by N-API once queued: it deletes itself after OnOK/OnError.
  auto* worker = new RestoreSnapshotWorker(env, Value(), *machine_, std::move(source), std::move(disks));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value describe_snapshot_js(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "describeSnapshot({ stateFile, ramFile })");
  }
  const Napi::Object files = info[0].As<Napi::Object>();
  const SnapshotFiles paths{string_field(files, "describeSnapshot", "stateFile"),
                            string_field(files, "describeSnapshot", "ramFile")};
  SnapshotDescription description;
  try {
    description = describe_snapshot(paths);
  } catch (const std::exception& error) {
    throw to_js_error(env, error);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("formatVersion", description.format_version);
  result.Set("vcpus", description.vcpus);
  result.Set("ramBytes", static_cast<double>(description.ram_bytes));
  result.Set("vramBytes", static_cast<double>(description.vram_bytes));
  Napi::Array devices = Napi::Array::New(env, description.devices.size());
  for (std::uint32_t i = 0; i < description.devices.size(); ++i) devices.Set(i, description.devices[i]);
  result.Set("devices", devices);
  return result;
}

}  // namespace nestbox::binding
