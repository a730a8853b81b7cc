import { useEffect, useState } from 'react';
import type { HostInfo } from '../../../client/contract.ts';
import { resourceLimits, type ResourceLimits } from '../model/host-limits.ts';

export type HostLimitsState =
  | { status: 'loading' }
  | { status: 'ready'; limits: ResourceLimits }
  /** host.info failed or is not offered: the VMM's own limits apply. */
  | { status: 'fallback'; limits: ResourceLimits; reason: string | null };

/** The CPU and memory limits of this computer, from `host.info`. */
export function useHostLimits(hostInfo: (() => Promise<HostInfo>) | undefined): HostLimitsState {
  const [state, setState] = useState<HostLimitsState>(() =>
    hostInfo
      ? { status: 'loading' }
      : { status: 'fallback', limits: resourceLimits(null), reason: null },
  );
  useEffect(() => {
    if (!hostInfo) return;
    let current = true;
    hostInfo().then(
      (info) => current && setState({ status: 'ready', limits: resourceLimits(info) }),
      (reason: unknown) =>
        current &&
        setState({
          status: 'fallback',
          limits: resourceLimits(null),
          reason: reason instanceof Error ? reason.message : String(reason),
        }),
    );
    return () => {
      current = false;
    };
  }, [hostInfo]);
  return state;
}
