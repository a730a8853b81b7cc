#include "binding/machine_config_from_js.h"

#include <optional>
#include <string>
#include <vector>

#include "arch/x86/kernel_format.h"
#include "binding/js_numbers.h"

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
  const std::optional<double> number = whole_number_within(value, 0, limit);
  if (!number) {
    type_error(config.Env(), std::string(field) + " must be a whole number between 0 and " +
                                 std::to_string(static_cast<std::uint64_t>(limit)));
  }
  return static_cast<std::uint64_t>(*number);
}

// An optional string field; nullopt when undefined.
std::optional<std::string> optional_string(const Napi::Object& object, const std::string& where,
                                           const char* field) {
  const Napi::Value value = object.Get(field);
  if (value.IsUndefined()) return std::nullopt;
  if (!value.IsString()) type_error(object.Env(), where + field + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

bool optional_boolean(const Napi::Object& object, const std::string& where, const char* field,
                      bool fallback) {
  const Napi::Value value = object.Get(field);
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) type_error(object.Env(), where + field + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

Napi::Object object_at(const Napi::Value& value, const std::string& where) {
  if (!value.IsObject() || value.IsArray()) type_error(value.Env(), where + " must be an object");
  return value.As<Napi::Object>();
}

}  // namespace

std::vector<DiskConfig> disks_from_js(const Napi::Value& value) {
  std::vector<DiskConfig> disks;
  if (value.IsUndefined()) return disks;
  if (!value.IsArray()) type_error(value.Env(), "disks must be an array");
  const Napi::Array array = value.As<Napi::Array>();
  for (std::uint32_t i = 0; i < array.Length(); ++i) {
    const std::string where = "disks[" + std::to_string(i) + "].";
    const Napi::Object object = object_at(array.Get(i), "disks[" + std::to_string(i) + "]");
    DiskConfig disk;
    const std::optional<std::string> path = optional_string(object, where, "path");
    if (!path || path->empty()) type_error(value.Env(), where + "path must be a non-empty string");
    disk.path = *path;
    disk.read_only = optional_boolean(object, where, "readOnly", false);
    disk.serial = optional_string(object, where, "serial").value_or("");
    disks.push_back(std::move(disk));
  }
  return disks;
}

namespace {

net::PortForward port_forward_from_js(const Napi::Value& value, const std::string& where) {
  const Napi::Object object = object_at(value, where);
  net::PortForward forward;
  const std::optional<std::string> protocol = optional_string(object, where + ".", "protocol");
  if (protocol && *protocol != "tcp" && *protocol != "udp") {
    type_error(value.Env(), where + ".protocol must be 'tcp' or 'udp'");
  }
  forward.protocol = protocol == "udp" ? net::NetProtocol::Udp : net::NetProtocol::Tcp;
  forward.host_address = optional_string(object, where + ".", "hostAddress").value_or("127.0.0.1");
  const auto port = [&](const char* field) {
    const std::optional<double> number = whole_number_within(object.Get(field), 1, 65535);
    if (!number) {
      type_error(value.Env(), where + "." + field + " must be a port number (1-65535)");
    }
    return static_cast<std::uint16_t>(*number);
  };
  forward.host_port = port("hostPort");
  forward.guest_port = port("guestPort");
  return forward;
}

std::optional<NetworkConfig> network_from_js(const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return std::nullopt;
  const Napi::Object object = object_at(value, "network");
  NetworkConfig network;
  if (const std::optional<std::string> mac = optional_string(object, "network.", "macAddress")) {
    network.mac = net::MacAddress::parse(*mac);
    if (!network.mac) {
      type_error(value.Env(), "network.macAddress '" + *mac + "' is not like 52:54:00:12:34:56");
    }
  }
  network.vm_id = optional_string(object, "network.", "vmId").value_or("");
  network.isolated = optional_boolean(object, "network.", "isolated", false);
  const Napi::Value forwards = object.Get("portForwards");
  if (!forwards.IsUndefined()) {
    if (!forwards.IsArray()) type_error(value.Env(), "network.portForwards must be an array");
    const Napi::Array array = forwards.As<Napi::Array>();
    for (std::uint32_t i = 0; i < array.Length(); ++i) {
      network.port_forwards.push_back(
          port_forward_from_js(array.Get(i), "network.portForwards[" + std::to_string(i) + "]"));
    }
  }
  return network;
}

// null: headless; undefined: the default display.
std::optional<DisplayConfig> display_from_js(const Napi::Value& value) {
  if (value.IsNull()) return std::nullopt;
  DisplayConfig display;
  if (value.IsUndefined()) return display;
  const Napi::Object object = object_at(value, "display");
  const auto field = [&](const char* name, std::uint32_t fallback) -> std::uint32_t {
    const Napi::Value number = object.Get(name);
    if (number.IsUndefined()) return fallback;
    const std::optional<double> v = whole_number_within(number, 0, 65536);
    if (!v) {
      type_error(value.Env(), std::string("display.") + name + " must be a whole number");
    }
    return static_cast<std::uint32_t>(*v);
  };
  display.vram_mib = field("vramMiB", display.vram_mib);
  display.width = field("width", display.width);
  display.height = field("height", display.height);
  return display;
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

  config.disks = disks_from_js(object.Get("disks"));
  config.network = network_from_js(object.Get("network"));
  config.entropy = optional_boolean(object, "", "entropy", true);
  config.display = display_from_js(object.Get("display"));

  const Napi::Value restore = object.Get("restore");
  if (!restore.IsUndefined()) {
    if (!restore.IsObject()) type_error(env, "restore must be { stateFile, ramFile }");
    const Napi::Object files = restore.As<Napi::Object>();
    const auto path = [&](const char* name) {
      const Napi::Value value = files.Get(name);
      if (!value.IsString() || value.As<Napi::String>().Utf8Value().empty()) {
        type_error(env, std::string("restore.") + name + " must be a non-empty string");
      }
      return value.As<Napi::String>().Utf8Value();
    };
    config.restore = SnapshotSource{path("stateFile"), path("ramFile")};
  }

  // Ranges beyond types are checked by validate_machine_config, which knows the host.
  config.memory_mib = whole_number(object, "memoryMiB", 1ull << 40);
  config.cpus = static_cast<std::uint32_t>(whole_number(object, "cpus", 1u << 16));
  return config;
}

}  // namespace nestbox::binding
