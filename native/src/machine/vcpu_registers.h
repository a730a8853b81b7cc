// A vCPU's register file as reported with a machine error, independent of KVM.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

namespace nestbox {

struct VcpuRegisters {
  std::uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
  std::uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  std::uint64_t rip, rflags;
  std::uint64_t cr0, cr2, cr3, cr4, efer;
  std::uint64_t cs, ss;  // selectors

  // Name/value pairs in a stable order, for reports and the JS binding.
  [[nodiscard]] std::array<std::pair<std::string_view, std::uint64_t>, 25> named() const {
    return {{{"rax", rax}, {"rbx", rbx}, {"rcx", rcx},       {"rdx", rdx}, {"rsi", rsi},
             {"rdi", rdi}, {"rsp", rsp}, {"rbp", rbp},       {"r8", r8},   {"r9", r9},
             {"r10", r10}, {"r11", r11}, {"r12", r12},       {"r13", r13}, {"r14", r14},
             {"r15", r15}, {"rip", rip}, {"rflags", rflags}, {"cr0", cr0}, {"cr2", cr2},
             {"cr3", cr3}, {"cr4", cr4}, {"efer", efer},     {"cs", cs},   {"ss", ss}}};
  }
};

}  // namespace nestbox
