#include <doctest/doctest.h>

#include "machine/machine_config.h"
#include "test_helpers.h"

using namespace nestbox;
using nestbox::test::contains;
using nestbox::test::expect_error;

namespace {

constexpr HostLimits kHost{8ull << 30, 1024};

MachineConfig valid_config() {
  MachineConfig config;
  config.kernel_path = "/boot/vmlinuz";
  config.memory_mib = 256;
  config.cpus = 1;
  config.command_line = "console=ttyS0";
  return config;
}

}  // namespace

TEST_CASE("machine config: a sensible config passes") {
  CHECK_NOTHROW(validate_machine_config(valid_config(), kHost));
}

TEST_CASE("machine config: the KVM device defaults to /dev/kvm") {
  CHECK(MachineConfig{}.kvm_device_path == "/dev/kvm");
}

TEST_CASE("machine config: each bad setting is named in the error") {
  MachineConfig config = valid_config();
  config.memory_mib = 8;
  auto error = expect_error([&] { validate_machine_config(config, kHost); });
  CHECK(error.code == ErrorCode::InvalidConfig);
  CHECK(contains(error.message, "memoryMiB"));
  CHECK(contains(error.message, "at least 64"));

  config = valid_config();
  config.memory_mib = 2ull * 1024 * 1024;
  error = expect_error([&] { validate_machine_config(config, kHost); });
  CHECK(contains(error.message, "1 TiB"));

  config = valid_config();
  config.cpus = 0;
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message, "cpus"));

  config = valid_config();
  config.cpus = 65;
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "cpus: 65 requested; the most a machine can have is 64"));

  config = valid_config();
  config.cpus = 8;
  CHECK(contains(expect_error([&] { validate_machine_config(config, HostLimits{8ull << 30, 4}); })
                     .message,
                 "this host's KVM allows is 4"));

  config = valid_config();
  config.kernel_path.clear();
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "kernelPath"));

  config = valid_config();
  config.kvm_device_path.clear();
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "kvmDevicePath"));

  config = valid_config();
  config.command_line = std::string(70000, 'x');
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "cmdline"));
}

TEST_CASE("machine config: 64 MiB to 64 GiB and more, 1 to 64 vCPUs, whatever the host's RAM") {
  MachineConfig config = valid_config();
  for (const std::uint64_t mib : {64ull, 4096ull, 64ull * 1024, 1024ull * 1024}) {
    config.memory_mib = mib;
    CHECK_NOTHROW(validate_machine_config(config, kHost));
  }
  config.memory_mib = 256;
  for (const std::uint32_t cpus : {1u, 2u, 4u, 64u}) {
    config.cpus = cpus;
    CHECK_NOTHROW(validate_machine_config(config, kHost));
  }
}

TEST_CASE("machine config: disks, network and entropy") {
  MachineConfig config = valid_config();
  CHECK(config.entropy);
  CHECK_FALSE(config.network);

  config.disks.assign(kMaxDisks, DiskConfig{"/vm/disk.qcow2", false, ""});
  CHECK_NOTHROW(validate_machine_config(config, kHost));
  config.disks.push_back(DiskConfig{"/vm/one-too-many.qcow2", false, ""});
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "at most 16"));

  config.disks = {DiskConfig{"", false, ""}};
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "disks[0].path"));
  config.disks = {DiskConfig{"/vm/a.raw", true, std::string(21, 's')}};
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "disks[0].serial"));
  config.disks.clear();

  config.network = NetworkConfig{};
  CHECK_NOTHROW(validate_machine_config(config, kHost));
  config.network->mac = net::MacAddress::parse("01:00:5e:00:00:01");  // multicast
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "network.macAddress"));
  config.network->mac = net::MacAddress::parse("52:54:00:12:34:56");
  CHECK_NOTHROW(validate_machine_config(config, kHost));

  net::PortForward forward;
  forward.host_port = 8080;
  forward.guest_port = 0;
  config.network->port_forwards = {forward};
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "network.portForwards"));
}

TEST_CASE("machine config: the display's video memory and mode") {
  MachineConfig config = valid_config();
  REQUIRE(config.display);
  CHECK_NOTHROW(validate_machine_config(config, kHost));
  config.display->vram_mib = 12;
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "display.vramMiB"));
  config.display->vram_mib = 16;
  config.display->width = 2560;
  config.display->height = 1600;
  CHECK_NOTHROW(validate_machine_config(config, kHost));
  config.display->vram_mib = 8;
  CHECK(contains(expect_error([&] { validate_machine_config(config, kHost); }).message,
                 "does not fit 8 MiB"));
  config.display.reset();
  CHECK_NOTHROW(validate_machine_config(config, kHost));
}
