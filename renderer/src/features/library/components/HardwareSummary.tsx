import type { ComponentType, ReactNode, SVGProps } from 'react';
import { formatDateTime, formatMiB } from '../../../components/format.ts';
import {
  CpuIcon,
  DiskIcon,
  KernelIcon,
  MemoryIcon,
  MonitorIcon,
  NetworkIcon,
} from '../../../components/icons.tsx';
import type { VmConfig } from '../../../../../electron/common/vm-details.ts';

interface Row {
  label: string;
  icon: ComponentType<SVGProps<SVGSVGElement>>;
  value: ReactNode;
}

/** The VM's hardware at a glance, as VMware's "Devices" panel shows it. */
export function HardwareSummary({ config }: { config: VmConfig }) {
  const { hardware, boot } = config;
  const forwards = hardware.network.portForwards;
  const rows: Row[] = [
    {
      label: 'Processors',
      icon: CpuIcon,
      value: hardware.cpus === 1 ? '1 CPU' : `${hardware.cpus} CPUs`,
    },
    { label: 'Memory', icon: MemoryIcon, value: formatMiB(hardware.memoryMiB) },
    {
      label: hardware.disks.length === 1 ? 'Disk' : 'Disks',
      icon: DiskIcon,
      value:
        hardware.disks.length === 0 ? (
          'None'
        ) : (
          <ul className="hardware__list">
            {hardware.disks.map((disk) => (
              <li key={disk.file}>
                <code>{disk.file}</code> {disk.format}
                {disk.readOnly ? ', read-only' : ''}
              </li>
            ))}
          </ul>
        ),
    },
    {
      label: 'Network',
      icon: NetworkIcon,
      value:
        hardware.network.mode === 'none' ? (
          'No network card'
        ) : (
          <>
            NAT
            {forwards.length > 0 && (
              <ul className="hardware__list">
                {forwards.map((forward) => (
                  <li key={`${forward.protocol} ${forward.hostAddress}:${forward.hostPort}`}>
                    {forward.protocol.toUpperCase()} {forward.hostAddress}:{forward.hostPort} →
                    guest {forward.guestPort}
                  </li>
                ))}
              </ul>
            )}
          </>
        ),
    },
    {
      label: 'Display',
      icon: MonitorIcon,
      value: hardware.display
        ? `${hardware.display.width} × ${hardware.display.height}, ${hardware.display.vramMiB} MiB video memory`
        : 'None (serial console only)',
    },
    {
      label: 'Boot',
      icon: KernelIcon,
      value: (
        <>
          <code>{boot.kernel}</code>
          {boot.initrd && (
            <>
              {' '}
              with <code>{boot.initrd}</code>
            </>
          )}
          {boot.cmdline && (
            <span className="hardware__cmdline">
              <code>{boot.cmdline}</code>
            </span>
          )}
        </>
      ),
    },
  ];
  return (
    <section className="vm-section" aria-labelledby="hardware-title">
      <h2 id="hardware-title" className="vm-section__title">
        Hardware
      </h2>
      <dl className="hardware">
        {rows.map(({ label, icon: RowIcon, value }) => (
          <div key={label} className="hardware__row">
            <dt className="hardware__label">
              <RowIcon width={16} height={16} />
              {label}
            </dt>
            <dd className="hardware__value">{value}</dd>
          </div>
        ))}
        <div className="hardware__row">
          <dt className="hardware__label">Guest</dt>
          <dd className="hardware__value">
            {config.guestOs === 'linux' ? 'Linux' : 'Other'}, made{' '}
            {formatDateTime(config.createdAt)}
          </dd>
        </div>
      </dl>
    </section>
  );
}
