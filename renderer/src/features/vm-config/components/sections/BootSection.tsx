import { TextField } from '../../../../components/form/Field.tsx';
import type { SectionProps } from './section-props.ts';

/** Direct kernel boot: the kernel, an optional initial ramdisk and the command line. */
export function BootSection({ form, mode, lockNote }: SectionProps) {
  const { values, set, touch, errorFor } = form;
  const note = lockNote?.('boot');
  const relative = mode === 'edit' ? ' Relative paths start at the VM’s folder.' : '';
  return (
    <div className="form-section">
      <TextField
        label="Kernel"
        value={values.kernel}
        onValueChange={(value) => set('kernel', value)}
        onBlur={() => touch('kernel')}
        error={errorFor('kernel')}
        note={note}
        disabled={note !== undefined}
        hint={`A Linux bzImage or ELF vmlinux file.${relative}`}
        placeholder="/home/you/images/vmlinuz"
        className="input--mono"
        required
      />
      <TextField
        label="Initial ramdisk (optional)"
        value={values.initrd}
        onValueChange={(value) => set('initrd', value)}
        onBlur={() => touch('initrd')}
        error={errorFor('initrd')}
        note={note}
        disabled={note !== undefined}
        hint="An initramfs or initrd image, if the kernel needs one."
        placeholder="/home/you/images/initramfs.img"
        className="input--mono"
      />
      <TextField
        label="Kernel command line"
        value={values.cmdline}
        onValueChange={(value) => set('cmdline', value)}
        onBlur={() => touch('cmdline')}
        error={errorFor('cmdline')}
        note={note}
        disabled={note !== undefined}
        hint="console=ttyS0 sends the kernel’s messages to the serial console."
        className="input--mono"
      />
    </div>
  );
}
