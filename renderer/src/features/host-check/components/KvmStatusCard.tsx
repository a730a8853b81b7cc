import type { KvmStatus } from '../../../client/contract.ts';
import { Button } from '../../../components/Button.tsx';
import { AlertIcon, CheckCircleIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import { kvmFixHints } from '../utils/kvm-fix-hints.ts';

interface KvmStatusCardProps {
  kvm: KvmStatus;
  /** A new check is under way (after "Check again"). */
  checking: boolean;
  onCheckAgain: () => void;
}

/** The answer to "can this computer run virtual machines?", and the fix when it cannot. */
export function KvmStatusCard({ kvm, checking, onCheckAgain }: KvmStatusCardProps) {
  if (kvm.ok) {
    return (
      <section
        className="status-card status-card--ready"
        data-testid="kvm-status"
        aria-labelledby="kvm-status-title"
      >
        <CheckCircleIcon className="status-card__icon" width={28} height={28} />
        <div className="status-card__body">
          <h2 id="kvm-status-title" className="status-card__title">
            Ready to run virtual machines
          </h2>
          <p className="status-card__detail">
            KVM API version {kvm.apiVersion} on <code>{kvm.devicePath}</code>
          </p>
        </div>
      </section>
    );
  }

  return (
    <section className="status-card status-card--problem" data-testid="kvm-status">
      <div role="alert" className="status-card__alert">
        <AlertIcon className="status-card__icon" width={28} height={28} />
        <div className="status-card__body">
          <h2 className="status-card__title">This computer can’t run virtual machines yet</h2>
          <p className="status-card__message">
            <InlineCode text={kvm.message} />
          </p>
          <h3 className="status-card__subtitle">How to fix it</h3>
          <p className="status-card__hint">
            <InlineCode text={kvmFixHints[kvm.problem]} />
          </p>
        </div>
      </div>
      <div className="status-card__actions">
        <Button busy={checking} busyLabel="Checking…" onClick={onCheckAgain}>
          Check again
        </Button>
      </div>
    </section>
  );
}
