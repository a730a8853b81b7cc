/**
 * The header's view of long operations (`jobs.changed`): while any runs, a button saying how
 * many, which opens a list of them, each with its progress bar and, when the job allows it,
 * a Cancel button. The request that started a job still reports its own outcome; this is only
 * the overview (and the one place to cancel).
 */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import type { Job } from '../../client/contract.ts';
import { Button } from '../../components/Button.tsx';
import { ProgressBar } from '../../components/ProgressBar.tsx';
import type { JobsApi } from './api/jobs-api.ts';
import './JobsIndicator.css';

function fractionOf(job: Job): number | null {
  return job.total > 0 ? job.done / job.total : null;
}

function countText(count: number): string {
  return count === 1 ? '1 operation running' : `${count} operations running`;
}

export function JobsIndicator({ api }: { api: JobsApi }) {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [open, setOpen] = useState(false);
  const [cancelling, setCancelling] = useState<ReadonlySet<string>>(new Set());
  const [problem, setProblem] = useState<string | null>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const popoverId = useId();
  const headingId = useId();

  useEffect(
    () =>
      api.watchJobs((list) => {
        setJobs(list);
        // Nothing to show: the list closes with the last job (and opens closed next time).
        if (!list.some((job) => job.state === 'running')) setOpen(false);
      }),
    [api],
  );

  const running = jobs.filter((job) => job.state === 'running');
  const visible = running.length > 0;

  async function cancel(job: Job) {
    setProblem(null);
    setCancelling((ids) => new Set(ids).add(job.id));
    try {
      await api.cancelJob(job.id);
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
      setCancelling((ids) => {
        const next = new Set(ids);
        next.delete(job.id);
        return next;
      });
    }
  }

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === 'Escape' && open) {
      event.stopPropagation();
      setOpen(false);
      buttonRef.current?.focus();
    }
  }

  return (
    <div className="jobs-indicator" onKeyDown={onKeyDown}>
      {/* Announced when the count changes, whether or not the list is open. */}
      <span className="visually-hidden" role="status">
        {visible ? countText(running.length) : ''}
      </span>
      {visible && (
        // A plain button (the styles of Button's ghost variant): focus returns here on Escape.
        <button
          ref={buttonRef}
          type="button"
          className="button button--ghost button--small"
          aria-expanded={open}
          aria-controls={popoverId}
          onClick={() => setOpen((was) => !was)}
        >
          {countText(running.length)}
        </button>
      )}
      {visible && open && (
        <section
          id={popoverId}
          className="jobs-indicator__popover"
          aria-labelledby={headingId}
          role="region"
        >
          <h2 id={headingId} className="jobs-indicator__heading">
            Running operations
          </h2>
          <ul className="jobs-indicator__list">
            {running.map((job) => (
              <li key={job.id} className="jobs-indicator__job">
                <ProgressBar label={job.label} fraction={fractionOf(job)} />
                {job.cancellable && (
                  <Button
                    size="small"
                    aria-label={`Cancel ${job.label}`}
                    busy={cancelling.has(job.id)}
                    busyLabel="Cancelling…"
                    onClick={() => void cancel(job)}
                  >
                    Cancel
                  </Button>
                )}
              </li>
            ))}
          </ul>
          {problem !== null && (
            <p className="jobs-indicator__error" role="alert">
              {problem}
            </p>
          )}
        </section>
      )}
    </div>
  );
}
