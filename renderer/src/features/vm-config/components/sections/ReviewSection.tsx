import type { ReactNode } from 'react';
import { formatBytes, formatMiB } from '../../../../components/format.ts';
import { newDiskBytes, parseWhole, type VmFormValues } from '../../model/vm-form.ts';
import { vramFor } from '../../model/vm-limits.ts';

interface ReviewSectionProps {
  values: VmFormValues;
  /** Jumps back to a step to change it. */
  onEdit: (stepId: string) => void;
}

/** Everything the new VM will get, with a way back to each part. */
export function ReviewSection({ values, onEdit }: ReviewSectionProps) {
  const rows: [label: string, value: ReactNode, step: string][] = [
    ['Name', values.name.trim(), 'general'],
    ['Guest', values.guestOs === 'linux' ? 'Linux' : 'Other', 'general'],
    [
      'Boot',
      <>
        <code>{values.kernel}</code>
        {values.initrd && (
          <>
            {' '}
            with <code>{values.initrd}</code>
          </>
        )}
        {values.cmdline && (
          <>
            <br />
            <code>{values.cmdline}</code>
          </>
        )}
      </>,
      'boot',
    ],
    [
      'Processors',
      parseWhole(values.cpus) === 1 ? '1 CPU' : `${parseWhole(values.cpus)} CPUs`,
      'resources',
    ],
    ['Memory', formatMiB(parseWhole(values.memoryMiB)), 'resources'],
    [
      'Disk',
      values.diskChoice === 'new' ? (
        `New qcow2 disk of ${formatBytes(newDiskBytes(values))}`
      ) : values.diskChoice === 'existing' ? (
        <>
          <code>{values.existingDiskPath}</code>
          {values.existingDiskReadOnly ? ' (read-only)' : ''}
        </>
      ) : (
        'None'
      ),
      'disk',
    ],
    [
      'Network',
      values.networkMode === 'none'
        ? 'None'
        : values.portForwards.length === 0
          ? 'NAT'
          : `NAT, forwarding ${values.portForwards
              .map(
                (forward) =>
                  `${forward.protocol.toUpperCase()} ${forward.hostAddress}:${forward.hostPort} → ${forward.guestPort}`,
              )
              .join(', ')}`,
      'network',
    ],
    [
      'Display',
      values.displayEnabled
        ? `${values.displayWidth} × ${values.displayHeight} (${vramFor(parseWhole(values.displayWidth), parseWhole(values.displayHeight))} MiB video memory)`
        : 'None (serial console only)',
      'display',
    ],
  ];
  return (
    <dl className="review">
      {rows.map(([label, value, step]) => (
        <div key={label} className="review__row">
          <dt className="review__label">{label}</dt>
          <dd className="review__value">{value}</dd>
          <dd className="review__edit">
            <button type="button" className="link-button" onClick={() => onEdit(step)}>
              Change<span className="visually-hidden"> {label.toLowerCase()}</span>
            </button>
          </dd>
        </div>
      ))}
    </dl>
  );
}
