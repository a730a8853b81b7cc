#include "binding/machine_config_from_js.h"

#include <cmath>
#include <string>

#include "arch/x86/kernel_format.h"

namespace nestbox::binding {

namespace {

[[noreturn]] void type_error(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, "Machine config: " + message);
}

// A whole number in [0, limit]; rejects fractions, NaN and negatives.
std::uint64_t whole_number(const Napi::Object& config, const char* field, double limit) {
  const Napi::Value value = config.Get(field);
  if (!value.IsNumber()) {
    type_error(config.Env(), std::string(field) + " must be a number");
  }
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || number < 0 || number > limit || std::floor(number) != number) {
    type_error(config.Env(), std::string(field) + " must be a whole number between 0 and " +
                                 std::to_string(static_cast<std::uint64_t>(limit)));
  }
  return static_cast<std::uint64_t>(number);
}

}  // namespace

MachineConfig machine_config_from_js(const Napi::Value& value) {
  const Napi::Env env = value.Env();
  if (!value.IsObject()) {
    type_error(env, "expected an object");
  }
  const Napi::Object object = value.As<Napi::Object>();
  MachineConfig config;

  const Napi::Value kernel_path = object.Get("kernelPath");
  if (!kernel_path.IsString()) {
    type_error(env, "kernelPath must be a string");
  }
  config.kernel_path = kernel_path.As<Napi::String>().Utf8Value();

  const Napi::Value kernel_format = object.Get("kernelFormat");
  if (!kernel_format.IsUndefined()) {
    const std::optional<x86::KernelFormat> format =
        kernel_format.IsString()
            ? x86::parse_kernel_format(kernel_format.As<Napi::String>().Utf8Value())
            : std::nullopt;
    if (!format) {
      type_error(env, "kernelFormat must be 'auto', 'flat', 'elf' or 'bzimage'");
    }
    config.kernel_format = *format;
  }

  const Napi::Value command_line = object.Get("cmdline");
  if (!command_line.IsUndefined()) {
    if (!command_line.IsString()) {
      type_error(env, "cmdline must be a string");
    }
    config.command_line = command_line.As<Napi::String>().Utf8Value();
  }

  const Napi::Value initrd_path = object.Get("initrdPath");
  if (!initrd_path.IsUndefined()) {
    if (!initrd_path.IsString() || initrd_path.As<Napi::String>().Utf8Value().empty()) {
      type_error(env, "initrdPath must be a non-empty string");
    }
    config.initrd_path = initrd_path.As<Napi::String>().Utf8Value();
  }

  const Napi::Value reboot_on_reset = object.Get("rebootOnReset");
  if (!reboot_on_reset.IsUndefined()) {
    if (!reboot_on_reset.IsBoolean()) {
      type_error(env, "rebootOnReset must be a boolean");
    }
    config.reboot_on_reset = reboot_on_reset.As<Napi::Boolean>().Value();
  }

  const Napi::Value kvm_device_path = object.Get("kvmDevicePath");
  if (!kvm_device_path.IsUndefined()) {
    if (!kvm_device_path.IsString() || kvm_device_path.As<Napi::String>().Utf8Value().empty()) {
      type_error(env, "kvmDevicePath must be a non-empty string");
    }
    config.kvm_device_path = kvm_device_path.As<Napi::String>().Utf8Value();
  }

  // Ranges beyond types are checked by validate_machine_config, which knows the host.
  config.memory_mib = whole_number(object, "memoryMiB", 1ull << 40);
  config.cpus = static_cast<std::uint32_t>(whole_number(object, "cpus", 1u << 16));
  return config;
}

}  // namespace nestbox::binding
