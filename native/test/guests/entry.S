/* Entry for flat and ELF test guests: the VMM enters here in 64-bit mode
   with interrupts off and RSI pointing at boot_params. */
  .section .text.entry, "ax"
  .code64
  .globl _start
_start:
  cli
  lea guest_stack_top(%rip), %rsp
  mov %rsi, %rdi
  call guest_main
  /* guest_main returned: stop for good (the VMM reports "halted"). */
1:
  cli
  hlt
  jmp 1b

  .section .bss
  .balign 16
guest_stack:
  .skip 8192
guest_stack_top:
