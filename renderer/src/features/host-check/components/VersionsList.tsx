import type { HostInfo } from '../../../client/contract.ts';

/** The versions a bug report needs. Parts not in use (Electron under `nestbox serve`) are left out. */
export function VersionsList({ versions }: { versions: HostInfo['versions'] }) {
  const rows: [label: string, version: string | null][] = [
    ['Nestbox', versions.nestbox],
    ['Electron', versions.electron],
    ['Chromium', versions.chrome],
    ['Node.js', versions.node],
  ];
  return (
    <section className="host-section" aria-labelledby="versions-title">
      <h2 id="versions-title" className="host-section__title">
        Versions
      </h2>
      <dl className="version-list">
        {rows.map(([label, version]) =>
          version === null ? null : (
            <div key={label} className="version-list__row">
              <dt>{label}</dt>
              <dd>{version}</dd>
            </div>
          ),
        )}
      </dl>
    </section>
  );
}
