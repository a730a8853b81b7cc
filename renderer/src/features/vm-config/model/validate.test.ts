import { describe, expect, it } from 'vitest';
import { hostInfo } from '../../../test/fakes.ts';
import { resourceLimits } from './host-limits.ts';
import { fieldForIssuePath, memoryWarning, validateVmForm } from './validate.ts';
import { emptyPortForward, newVmDefaults, type VmFormValues } from './vm-form.ts';

const limits = resourceLimits(hostInfo({ cpuCount: 8, memoryBytes: 16 * 1024 ** 3 }));
const create = { mode: 'create' as const, limits };

function valid(overrides: Partial<VmFormValues> = {}): VmFormValues {
  return { ...newVmDefaults(limits), name: 'Alpine', kernel: '/boot/vmlinuz', ...overrides };
}

describe('resourceLimits', () => {
  it('bounds a VM by the host and defaults to 2 CPUs and a quarter of memory up to 2 GiB', () => {
    expect(limits).toMatchObject({
      maxCpus: 8,
      maxMemoryMiB: 16384,
      defaultCpus: 2,
      defaultMemoryMiB: 2048,
    });
    expect(resourceLimits(hostInfo({ cpuCount: 1, memoryBytes: 2 * 1024 ** 3 }))).toMatchObject({
      maxCpus: 1,
      defaultCpus: 1,
      defaultMemoryMiB: 512,
    });
    expect(resourceLimits(hostInfo({ cpuCount: 256 })).maxCpus).toBe(64);
    expect(resourceLimits(null)).toMatchObject({ maxCpus: 64, maxMemoryMiB: 1048576 });
  });
});

describe('validateVmForm', () => {
  it('accepts the defaults once name and kernel are given', () => {
    expect(validateVmForm(valid(), create)).toEqual({});
  });

  it.each<[Partial<VmFormValues>, string, RegExp]>([
    [{ name: '' }, 'name', /Enter a name/],
    [{ name: '   ' }, 'name', /Enter a name/],
    [{ name: 'x'.repeat(129) }, 'name', /at most 128 characters \(this is 129\)/],
    [{ name: 'a\tb' }, 'name', /without tabs or line breaks/],
    [{ kernel: '' }, 'kernel', /Enter the path of the kernel/],
    [{ kernel: 'vmlinuz' }, 'kernel', /full path, starting with \//],
    [{ kernel: ' /boot/vmlinuz' }, 'kernel', /spaces at the start or end/],
    [{ initrd: 'initrd.img' }, 'initrd', /full path/],
    [{ cmdline: 'a'.repeat(65536) }, 'cmdline', /65,536 bytes; the limit is 65,535/],
    [{ cpus: '' }, 'cpus', /Enter the number of processors/],
    [{ cpus: '1.5' }, 'cpus', /whole number of processors/],
    [{ cpus: '9' }, 'cpus', /from 1 to 8 processors \(this computer has 8\)/],
    [{ cpus: '0' }, 'cpus', /from 1 to 8/],
    [{ memoryMiB: '32' }, 'memoryMiB', /from 64 to 16,384 MiB, the memory of this computer/],
    [{ memoryMiB: 'lots' }, 'memoryMiB', /whole number of MiB/],
    [{ newDiskSize: '' }, 'newDiskSize', /size of the new disk/],
    [{ newDiskSize: 'big' }, 'newDiskSize', /as a number/],
    [{ newDiskSize: '0.5', newDiskUnit: 'MiB' }, 'newDiskSize', /at least 1 MiB/],
    [{ newDiskSize: '70000' }, 'newDiskSize', /at most 64 TiB/],
    [{ diskChoice: 'existing', existingDiskPath: 'disk.raw' }, 'existingDiskPath', /full path/],
    [{ displayWidth: '100' }, 'displayWidth', /from 320 to 8,192 pixels/],
    [{ displayHeight: '9000' }, 'displayHeight', /from 200 to 8,192 pixels/],
  ])('reports %o on %s', (change, field, message) => {
    const errors = validateVmForm(valid(change), create);
    expect(errors[field]).toMatch(message);
  });

  it('checks only the disk the user chose, and no display fields when headless', () => {
    expect(validateVmForm(valid({ diskChoice: 'none', newDiskSize: 'x' }), create)).toEqual({});
    expect(validateVmForm(valid({ displayEnabled: false, displayWidth: '1' }), create)).toEqual({});
  });

  it('checks each port forward: address, ports and duplicates', () => {
    const forward = (hostPort: string, guestPort: string, extra = {}) => ({
      ...emptyPortForward(),
      hostPort,
      guestPort,
      ...extra,
    });
    const errors = validateVmForm(
      valid({
        portForwards: [
          forward('2222', '22'),
          forward('2222', '2022'),
          forward('2222', '53', { protocol: 'udp' }),
          forward('0', '70000'),
          forward('80', '80', { hostAddress: 'localhost' }),
        ],
      }),
      create,
    );
    expect(errors).toEqual({
      'portForwards.1.hostPort': 'Rule 1 already forwards TCP 127.0.0.1:2222.',
      'portForwards.3.hostPort': 'Ports are whole numbers from 1 to 65535.',
      'portForwards.3.guestPort': 'Ports are whole numbers from 1 to 65535.',
      'portForwards.4.hostAddress': 'Enter an IPv4 address such as 127.0.0.1 (this computer only).',
    });
    // Kept but not checked while the network is off.
    expect(
      validateVmForm(valid({ networkMode: 'none', portForwards: [forward('', '')] }), create),
    ).toEqual({});
  });

  it('lets an existing VM keep relative paths, and refuses the same image twice', () => {
    const disk = (file: string) => ({ key: file, file, format: 'qcow2' as const, readOnly: false });
    const errors = validateVmForm(
      valid({ kernel: 'vmlinuz', disks: [disk('disk.qcow2'), disk('disk.qcow2')] }),
      { mode: 'edit', limits },
    );
    expect(errors).toEqual({
      'disks.1.file': 'This is the same image as disk 1; use each image once.',
    });
  });
});

describe('memoryWarning', () => {
  it('warns above three quarters of the host’s memory', () => {
    expect(memoryWarning(valid({ memoryMiB: '12288' }), limits)).toBeNull();
    expect(memoryWarning(valid({ memoryMiB: '13000' }), limits)).toMatch(/little memory/);
  });
});

describe('fieldForIssuePath', () => {
  it('maps service issue paths back to form fields', () => {
    expect(fieldForIssuePath('hardware.cpus')).toBe('cpus');
    expect(fieldForIssuePath('memoryMiB')).toBe('memoryMiB');
    expect(fieldForIssuePath('boot.kernel')).toBe('kernel');
    expect(fieldForIssuePath('append')).toBe('cmdline');
    expect(fieldForIssuePath('disk.file')).toBe('existingDiskPath');
    expect(fieldForIssuePath('hardware.disks[1].file')).toBe('disks.1.file');
    expect(fieldForIssuePath('network.portForwards[2].guestPort')).toBe('portForwards.2.guestPort');
    expect(fieldForIssuePath('hardware.network.portForwards[0]')).toBe('portForwards.0.hostPort');
    expect(fieldForIssuePath('hardware.display')).toBe('displayWidth');
    expect(fieldForIssuePath('id')).toBeNull();
  });
});
