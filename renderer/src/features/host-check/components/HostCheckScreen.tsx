import { useEffect, useRef } from 'react';
import { Button } from '../../../components/Button.tsx';
import { NestboxClientError } from '../../../client/client-error.ts';
import { AlertIcon, CloudOffIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import { useHostInfo } from '../hooks/use-host-info.ts';
import { KvmStatusCard } from './KvmStatusCard.tsx';
import { MachineFacts } from './MachineFacts.tsx';
import { VersionsList } from './VersionsList.tsx';
import './host-check.css';

/** "This computer": can this machine run VMs, what it offers them, and how to fix it if not. */
export function HostCheckScreen() {
  const { info, error, pending, answerId, refetch } = useHostInfo();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const focusWhenAnswered = useRef(false);

  // Retry and "Check again" can replace the pressed button with the answer. If focus was
  // lost with it, put it on the screen's heading rather than leave keyboard users on <body>.
  useEffect(() => {
    if (!focusWhenAnswered.current) return;
    focusWhenAnswered.current = false;
    const active = document.activeElement;
    if (active === null || active === document.body) headingRef.current?.focus();
  }, [answerId]);

  function retry() {
    focusWhenAnswered.current = true;
    refetch();
  }

  return (
    <div className="host-check">
      <title>This computer · Nestbox</title>
      <div className="host-check__header">
        <h1 ref={headingRef} tabIndex={-1} className="host-check__title">
          This computer
        </h1>
        <p className="host-check__lede">
          Whether this machine can run virtual machines, and what it can give them.
        </p>
      </div>

      {error ? (
        <section className="load-error" aria-labelledby="load-error-title">
          {/* Keyed by the error, so a retry that fails again is announced again. */}
          <div key={answerId} role="alert" className="load-error__alert">
            <ErrorIcon className="load-error__icon" error={error} />
            <div className="load-error__body">
              <h2 id="load-error-title" className="load-error__title">
                Couldn’t check this computer
              </h2>
              <p>
                <InlineCode text={error.message} />
              </p>
            </div>
          </div>
          <Button variant="primary" busy={pending} busyLabel="Retrying…" onClick={retry}>
            Retry
          </Button>
        </section>
      ) : info ? (
        <div className="host-check__content">
          <KvmStatusCard kvm={info.kvm} checking={pending} onCheckAgain={retry} />
          <MachineFacts info={info} />
          <VersionsList versions={info.versions} />
        </div>
      ) : (
        <div role="status" className="host-check__loading">
          <span className="host-check__spinner" aria-hidden="true" />
          Checking this computer…
        </div>
      )}
    </div>
  );
}

/** A broken connection looks different from a service that answered with an error. */
function ErrorIcon({ error, className }: { error: Error; className: string }) {
  const Icon =
    error instanceof NestboxClientError && error.kind === 'unreachable' ? CloudOffIcon : AlertIcon;
  return <Icon className={className} width={28} height={28} />;
}
