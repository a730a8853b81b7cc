import { useId, useMemo, useState } from 'react';
import { PlusIcon, SearchIcon } from '../../../components/icons.tsx';
import { useLibrary } from '../hooks/library-context.tsx';
import {
  badgeStateOf,
  filterLabels,
  matchesFilter,
  type VmBadgeState,
  type VmFilter,
} from '../utils/vm-state.ts';
import { OpenVmFolderButton } from './OpenVmFolderButton.tsx';
import { VmStateBadge } from './VmStateBadge.tsx';
import './library.css';

interface NavEntry {
  key: string;
  name: string;
  href: string;
  state: VmBadgeState;
  /** Marks the entry of the page on show. */
  current: boolean;
}

function folderName(folder: string): string {
  return folder.split('/').filter(Boolean).at(-1) ?? folder;
}

/** The sidebar's list of VMs: live badges, search and a state filter. */
export function LibraryNav({ currentPath }: { currentPath: string }) {
  const { list, links } = useLibrary();
  const [query, setQuery] = useState('');
  const [filter, setFilter] = useState<VmFilter>('all');
  const searchId = useId();
  const headingId = useId();

  const entries = useMemo<NavEntry[]>(() => {
    if (!list) return [];
    const vms = list.vms.map((vm) => {
      const href = links.vm(vm.id);
      return {
        key: vm.id,
        name: vm.name,
        href,
        state: badgeStateOf(vm),
        current:
          currentPath === href.replace(/^#/, '') ||
          currentPath.startsWith(`${href.replace(/^#/, '')}/`),
      };
    });
    const broken = list.broken.map((entry) => {
      const href = links.brokenVm(entry.folder);
      return {
        key: `broken:${entry.folder}`,
        name: folderName(entry.folder),
        href,
        state: 'broken' as const,
        current: currentPath === href.replace(/^#/, ''),
      };
    });
    return [...vms, ...broken].sort((a, b) => a.name.localeCompare(b.name));
  }, [list, links, currentPath]);

  const needle = query.trim().toLowerCase();
  const shown = entries.filter(
    (entry) => matchesFilter(entry.state, filter) && entry.name.toLowerCase().includes(needle),
  );
  const total = entries.length;

  return (
    <section className="library-nav" aria-labelledby={headingId}>
      <div className="library-nav__header">
        <h2 id={headingId} className="library-nav__title">
          Virtual machines
        </h2>
        <div className="library-nav__actions">
          <OpenVmFolderButton look="icon" />
          <a className="library-nav__new" href={links.newVm} title="New virtual machine">
            <PlusIcon width={16} height={16} />
            <span className="visually-hidden">New virtual machine</span>
          </a>
        </div>
      </div>
      {total > 0 && (
        <div className="library-nav__tools">
          <div className="library-nav__search">
            <SearchIcon className="library-nav__search-icon" width={16} height={16} />
            <label className="visually-hidden" htmlFor={searchId}>
              Search virtual machines
            </label>
            <input
              id={searchId}
              className="input library-nav__search-input"
              type="search"
              placeholder="Search"
              value={query}
              onChange={(event) => setQuery(event.target.value)}
            />
          </div>
          <div className="library-nav__filters" role="group" aria-label="Show">
            {(Object.keys(filterLabels) as VmFilter[]).map((key) => (
              <button
                key={key}
                type="button"
                className="library-nav__filter"
                aria-pressed={filter === key}
                onClick={() => setFilter(key)}
              >
                {filterLabels[key]}
              </button>
            ))}
          </div>
        </div>
      )}
      {list && total === 0 && <p className="library-nav__empty">No virtual machines yet.</p>}
      {total > 0 && shown.length === 0 && (
        <p className="library-nav__empty">No virtual machine matches.</p>
      )}
      {shown.length > 0 && (
        <ul className="library-nav__list" aria-label="Virtual machines">
          {shown.map((entry) => (
            <li key={entry.key}>
              <a
                className="library-nav__item"
                href={entry.href}
                aria-current={entry.current ? 'page' : undefined}
              >
                <span className="library-nav__name">{entry.name}</span>
                <VmStateBadge state={entry.state} compact />
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
