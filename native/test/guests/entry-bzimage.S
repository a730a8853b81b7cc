/* Entry for the bzImage-shaped guest. As in Linux, the protected-mode image
   starts with the 32-bit entry (startup_32) and the 64-bit entry (startup_64)
   is 0x200 bytes in; a 64-bit boot loader jumps there with RSI = boot_params.
   The 32-bit entry is not supported: it halts. */
  .section .text.entry, "ax"
  .code64
  .globl _start
_start:
startup_32:
  .fill 0x200, 1, 0xf4  /* hlt */

startup_64:
  cli
  lea guest_stack_top(%rip), %rsp
  mov %rsi, %rdi
  call guest_main
1:
  cli
  hlt
  jmp 1b

  .section .bss
  .balign 16
guest_stack:
  .skip 8192
guest_stack_top:
