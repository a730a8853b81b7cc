import type { ComponentType, SVGProps } from 'react';
import type { HostInfo } from '../../../client/contract.ts';
import { CpuIcon, HostIcon, KernelIcon, MemoryIcon } from '../../../components/icons.tsx';
import { formatCpuCount, formatMemory } from '../utils/format.ts';

interface Fact {
  label: string;
  value: string;
  icon: ComponentType<SVGProps<SVGSVGElement>>;
  mono?: boolean;
}

/** What this machine can offer virtual machines, and which machine it is. */
export function MachineFacts({ info }: { info: HostInfo }) {
  const facts: Fact[] = [
    { label: 'Processors', value: formatCpuCount(info.cpuCount), icon: CpuIcon },
    { label: 'Memory', value: formatMemory(info.memoryBytes), icon: MemoryIcon },
    { label: 'Linux kernel', value: info.kernelRelease, icon: KernelIcon, mono: true },
    { label: 'Hostname', value: info.hostname, icon: HostIcon, mono: true },
  ];
  return (
    <section className="host-section" aria-labelledby="machine-facts-title">
      <h2 id="machine-facts-title" className="host-section__title">
        Machine
      </h2>
      <dl className="fact-grid">
        {facts.map(({ label, value, icon: FactIcon, mono }) => (
          <div key={label} className="fact">
            <dt className="fact__label">
              <FactIcon className="fact__icon" width={16} height={16} />
              {label}
            </dt>
            <dd className={mono ? 'fact__value fact__value--mono' : 'fact__value'}>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
