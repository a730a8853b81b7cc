import type { KvmProblem } from '../../../client/contract.ts';

/**
 * What the user can do about each kind of KVM problem. The service's message says what is
 * wrong on this machine; the hint says how to fix that kind of problem. `backticks` mark
 * commands (shown as code).
 */
export const kvmFixHints: Record<KvmProblem, string> = {
  missing:
    'Turn on hardware virtualization (Intel VT-x or AMD-V) in your computer’s firmware (BIOS/UEFI) settings, then load the KVM module: `sudo modprobe kvm_intel` on Intel or `sudo modprobe kvm_amd` on AMD processors.',
  permission:
    'Add yourself to the kvm group with `sudo usermod -aG kvm $USER`, then log out and back in so the new group membership takes effect.',
  'api-version':
    'This Linux kernel’s KVM is too old or not supported. Update to a current kernel from your distribution and restart.',
  capability:
    'This Linux kernel’s KVM lacks a feature Nestbox needs. Update to a current kernel from your distribution and restart.',
  error:
    'Something unexpected stopped Nestbox from using KVM. Check the message above and try again; if it keeps happening, report it with the versions listed on this page.',
};
