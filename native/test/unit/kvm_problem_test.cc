#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "kvm/kvm_cpuid_table.h"
#include "kvm/kvm_probe.h"
#include "kvm/kvm_problem.h"
#include "kvm/kvm_system.h"
#include "test_helpers.h"

using namespace nestbox::kvm;
using nestbox::test::contains;

TEST_CASE("KVM open failures map to a problem and one actionable line") {
  const auto missing = open_failure_error("/dev/kvm", ENOENT);
  CHECK(missing.problem() == KvmProblem::Missing);
  CHECK(std::string(missing.what()) ==
        "/dev/kvm not found — enable virtualization (VT-x/AMD-V) in the firmware and load "
        "kvm_intel or kvm_amd");
  CHECK(open_failure_error("/dev/kvm", ENXIO).problem() == KvmProblem::Missing);
  CHECK(open_failure_error("/dev/kvm", ENODEV).problem() == KvmProblem::Missing);

  const auto denied = open_failure_error("/dev/kvm", EACCES);
  CHECK(denied.problem() == KvmProblem::Permission);
  CHECK(std::string(denied.what()) ==
        "/dev/kvm: permission denied — add your user to the kvm group (sudo usermod -aG kvm "
        "$USER) and log in again");
  CHECK(open_failure_error("/dev/kvm", EPERM).problem() == KvmProblem::Permission);

  const auto other = open_failure_error("/dev/kvm", EMFILE);
  CHECK(other.problem() == KvmProblem::Error);
  CHECK(contains(other.what(), "/dev/kvm: cannot open"));
  CHECK(std::string(other.what()).find('\n') == std::string::npos);
}

TEST_CASE("probe_kvm reports expected failures as data, never by throwing") {
  const KvmProbeResult missing = probe_kvm("/nonexistent/nestbox-kvm");
  CHECK_FALSE(missing.ok);
  CHECK(missing.problem == KvmProblem::Missing);
  CHECK(missing.device_path == "/nonexistent/nestbox-kvm");

  // A file that opens but answers no KVM ioctl.
  const KvmProbeResult not_kvm = probe_kvm("/proc/self/status");
  CHECK_FALSE(not_kvm.ok);
  CHECK(not_kvm.problem == KvmProblem::Error);
  CHECK(contains(not_kvm.message, "is not a KVM device"));
}

TEST_CASE("problem names match the TypeScript KvmProblem union") {
  CHECK(kvm_problem_name(KvmProblem::Missing) == "missing");
  CHECK(kvm_problem_name(KvmProblem::Permission) == "permission");
  CHECK(kvm_problem_name(KvmProblem::ApiVersion) == "api-version");
  CHECK(kvm_problem_name(KvmProblem::Capability) == "capability");
  CHECK(kvm_problem_name(KvmProblem::Error) == "error");
}

TEST_CASE("CPUID table ioctls carry the C ABI's 8-byte header size") {
  // Had they been computed from a C++-sized kvm_cpuid2, KVM would answer EINVAL.
  CHECK(kGetSupportedCpuid == 0xc008ae05ul);
  CHECK(kSetCpuid2 == 0x4008ae90ul);
  CpuidTableBuffer table(3);
  CHECK(table.header()->entry_count == 3);
  CHECK(reinterpret_cast<std::uint8_t*>(table.entries()) -
            reinterpret_cast<std::uint8_t*>(table.data()) ==
        8);
}
