#include "kvm/required_capabilities.h"

#include <linux/kvm.h>

#include <array>

namespace nestbox::kvm {

namespace {

constexpr std::array kRequired = {
    RequiredCapability{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM"},
    RequiredCapability{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "vCPU setup"},
    RequiredCapability{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "guest CPUID"},
    RequiredCapability{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "interrupt controllers"},
    RequiredCapability{KVM_CAP_PIT2, "KVM_CAP_PIT2", "the timer"},
    RequiredCapability{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "fast device I/O"},
    RequiredCapability{KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts"},
    RequiredCapability{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "interrupt routing"},
    RequiredCapability{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "starting secondary vCPUs"},
    RequiredCapability{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT",
                       "stopping vCPUs promptly"},
};

}  // namespace

std::span<const RequiredCapability> required_capabilities() { return kRequired; }

}  // namespace nestbox::kvm
