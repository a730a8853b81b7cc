/* Entry for running a test guest under another VMM (QEMU `-kernel`) as a
   Multiboot v1 image, for benchmarks against a peer: the loader enters here in
   32-bit protected mode without paging; this stub identity-maps the first
   1 GiB, switches to long mode and calls the same guest_main the other
   entries call (with no boot_params: RDI = 0). The a.out kludge flag tells the
   loader where the flat image goes, so the file needs no 32-bit ELF. */
  .set MB_MAGIC, 0x1badb002
  .set MB_FLAGS, 0x00010000  /* bit 16: the address fields below are valid */

  .section .text.entry, "ax"
  .code32
  .globl _start
_start:
  jmp multiboot_entry

  .balign 4
multiboot_header:
  .long MB_MAGIC
  .long MB_FLAGS
  .long -(MB_MAGIC + MB_FLAGS)
  .long multiboot_header  /* header_addr */
  .long _start            /* load_addr: the file's first byte */
  .long 0                 /* load_end_addr: the whole file */
  .long _end              /* bss_end_addr: zeroed by the loader */
  .long multiboot_entry   /* entry_addr */

multiboot_entry:
  cli
  movl $mb_pdpt + 3, mb_pml4
  movl $mb_pd + 3, mb_pdpt
  xorl %ecx, %ecx
1:
  movl %ecx, %eax
  shll $21, %eax
  orl $0x83, %eax  /* present, writable, 2 MiB page */
  movl %eax, mb_pd(,%ecx,8)
  incl %ecx
  cmpl $512, %ecx
  jne 1b
  movl $mb_pml4, %eax
  movl %eax, %cr3
  movl %cr4, %eax
  orl $0x20, %eax  /* PAE */
  movl %eax, %cr4
  movl $0xc0000080, %ecx  /* EFER */
  rdmsr
  orl $0x100, %eax  /* LME */
  wrmsr
  movl %cr0, %eax
  orl $0x80000001, %eax  /* PG | PE */
  movl %eax, %cr0
  lgdt mb_gdt_descriptor
  ljmp $0x08, $long_mode_entry

  .code64
long_mode_entry:
  movw $0x10, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  lea guest_stack_top(%rip), %rsp
  xorl %edi, %edi
  call guest_main
2:
  cli
  hlt
  jmp 2b

  .section .rodata
  .balign 8
mb_gdt:
  .quad 0
  .quad 0x00af9a000000ffff  /* 0x08: 64-bit code */
  .quad 0x00cf92000000ffff  /* 0x10: flat data */
mb_gdt_descriptor:
  .word 23
  .long mb_gdt

  .section .bss
  .balign 4096
mb_pml4:
  .skip 4096
mb_pdpt:
  .skip 4096
mb_pd:
  .skip 4096
  .balign 16
guest_stack:
  .skip 8192
guest_stack_top:
