import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Button } from '../../../components/Button.tsx';
import { errorIssues, errorMessage } from '../../../components/format.ts';
import { AlertIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import type { NewVmApi, VmDetails } from '../api/vm-config-api.ts';
import { useHostLimits } from '../hooks/use-host-limits.ts';
import { useVmForm } from '../hooks/use-vm-form.ts';
import { fieldLabel } from '../model/field-labels.ts';
import type { ResourceLimits } from '../model/host-limits.ts';
import { fieldForIssuePath, type FormErrors, type ValidationContext } from '../model/validate.ts';
import { newVmDefaults, toCreateRequest } from '../model/vm-form.ts';
import { BootSection } from './sections/BootSection.tsx';
import { DiskSection } from './sections/DiskSection.tsx';
import { DisplaySection } from './sections/DisplaySection.tsx';
import { GeneralSection } from './sections/GeneralSection.tsx';
import { NetworkSection } from './sections/NetworkSection.tsx';
import { ResourcesSection } from './sections/ResourcesSection.tsx';
import { ReviewSection } from './sections/ReviewSection.tsx';
import type { SectionProps } from './sections/section-props.ts';
import { stepOfField, wizardSteps, type WizardStep } from './wizard-steps.ts';
import './vm-config.css';

interface NewVmWizardProps {
  api: NewVmApi;
  /** The VM exists: show it. */
  onCreated: (vm: VmDetails) => void;
  /** Cancel or Escape: nothing was made. */
  onCancel: () => void;
}

/** "New virtual machine": a step at a time, each checked before the next, then a review. */
export function NewVmWizard({ api, onCreated, onCancel }: NewVmWizardProps) {
  const host = useHostLimits(api.hostInfo);
  return (
    <div className="wizard">
      <title>New virtual machine · Nestbox</title>
      <h1 className="page-title" tabIndex={-1}>
        New virtual machine
      </h1>
      {host.status === 'loading' ? (
        <p className="loading-text" aria-busy="true">
          Checking what this computer can give a VM…
        </p>
      ) : (
        <>
          {host.status === 'fallback' && host.reason && (
            <div className="inline-alert inline-alert--warning">
              <AlertIcon />
              <p>
                Couldn’t read this computer’s processors and memory ({host.reason}), so the limits
                below are Nestbox’s own.
              </p>
            </div>
          )}
          <WizardForm
            limits={host.limits}
            createVm={api.createVm}
            onCreated={onCreated}
            onCancel={onCancel}
          />
        </>
      )}
    </div>
  );
}

interface WizardFormProps {
  limits: ResourceLimits;
  createVm: NewVmApi['createVm'];
  onCreated: (vm: VmDetails) => void;
  onCancel: () => void;
}

interface SubmitProblem {
  message: string;
  issues: { field: string | null; text: string }[];
}

function WizardForm({ limits, createVm, onCreated, onCancel }: WizardFormProps) {
  const [initial] = useState(() => newVmDefaults(limits));
  const context = useMemo<ValidationContext>(() => ({ mode: 'create', limits }), [limits]);
  const form = useVmForm(initial, context);
  const [stepIndex, setStepIndex] = useState(0);
  const [reached, setReached] = useState(0);
  const [submitting, setSubmitting] = useState(false);
  const [problem, setProblem] = useState<SubmitProblem | null>(null);
  const panelRef = useRef<HTMLFormElement>(null);
  const shownStep = useRef(stepIndex);
  const headingId = useId();
  const blockerId = useId();

  const step = (wizardSteps[stepIndex] ?? wizardSteps[0]) as WizardStep;
  const isReview = step.id === 'review';
  const problemFields = Object.keys(form.errors);
  const stepProblems = isReview ? problemFields : problemFields.filter((field) => step.owns(field));
  const stepValid = stepProblems.length === 0;
  const firstBlocked = problemFields.reduce(
    (lowest, field) => Math.min(lowest, stepOfField(field)),
    wizardSteps.length,
  );

  // A new step: put focus on its first field, so typing can go on at once.
  useEffect(() => {
    if (shownStep.current === stepIndex) return;
    shownStep.current = stepIndex;
    const first = panelRef.current?.querySelector<HTMLElement>(
      'input:not([disabled]), select:not([disabled]), textarea:not([disabled])',
    );
    (first ?? panelRef.current?.querySelector<HTMLElement>('h2'))?.focus();
  }, [stepIndex]);

  function goTo(index: number) {
    setStepIndex(index);
    setReached((current) => Math.max(current, index));
  }

  async function create() {
    setSubmitting(true);
    setProblem(null);
    try {
      const vm = await createVm(toCreateRequest(form.values));
      onCreated(vm);
    } catch (error) {
      const issues = errorIssues(error).map((issue) => ({
        field: fieldForIssuePath(issue.path),
        text: issue.path ? `${issue.path}: ${issue.message}` : issue.message,
      }));
      const serverErrors: FormErrors = {};
      for (const issue of errorIssues(error)) {
        const field = fieldForIssuePath(issue.path);
        if (field && !serverErrors[field]) serverErrors[field] = issue.message;
      }
      form.setServerErrors(serverErrors);
      setProblem({ message: errorMessage(error), issues });
      setSubmitting(false);
    }
  }

  function submit() {
    if (!stepValid || submitting) return;
    if (isReview) void create();
    else goTo(stepIndex + 1);
  }

  function onKeyDown(event: KeyboardEvent<HTMLFormElement>) {
    if (event.key === 'Escape' && !event.defaultPrevented) {
      event.preventDefault();
      onCancel();
    }
  }

  const sectionProps: SectionProps = { form, mode: 'create', limits };
  const blocker = stepProblems[0];

  return (
    <div className="wizard__body">
      <nav className="wizard__nav" aria-label="Steps">
        <ol className="wizard__steps">
          {wizardSteps.map((item, index) => (
            <li key={item.id}>
              <button
                type="button"
                className="wizard__step"
                aria-current={index === stepIndex ? 'step' : undefined}
                disabled={index > reached || index > firstBlocked || submitting}
                onClick={() => goTo(index)}
              >
                <span className="wizard__step-number" aria-hidden="true">
                  {index + 1}
                </span>
                {item.title}
              </button>
            </li>
          ))}
        </ol>
      </nav>

      <form
        ref={panelRef}
        className="wizard__panel"
        aria-labelledby={headingId}
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
        onKeyDown={onKeyDown}
      >
        <h2 id={headingId} className="wizard__step-title" tabIndex={-1}>
          <span className="wizard__step-count">
            Step {stepIndex + 1} of {wizardSteps.length}
          </span>
          {step.title}
        </h2>

        {step.id === 'general' && <GeneralSection {...sectionProps} />}
        {step.id === 'boot' && <BootSection {...sectionProps} />}
        {step.id === 'resources' && <ResourcesSection {...sectionProps} />}
        {step.id === 'disk' && <DiskSection {...sectionProps} />}
        {step.id === 'network' && <NetworkSection {...sectionProps} />}
        {step.id === 'display' && <DisplaySection {...sectionProps} />}
        {isReview && (
          <ReviewSection
            values={form.values}
            onEdit={(id) => goTo(wizardSteps.findIndex((item) => item.id === id))}
          />
        )}

        {problem && (
          <div role="alert" className="inline-alert">
            <AlertIcon />
            <div>
              <p className="inline-alert__title">Couldn’t create the VM</p>
              <p>
                <InlineCode text={problem.message} />
              </p>
              {problem.issues.length > 0 && (
                <ul>
                  {problem.issues.map((issue) => (
                    <li key={issue.text}>
                      {issue.text}
                      {issue.field && (
                        <>
                          {' '}
                          <button
                            type="button"
                            className="link-button"
                            onClick={() => goTo(stepOfField(issue.field ?? ''))}
                          >
                            Change {fieldLabel(issue.field).toLowerCase()}
                          </button>
                        </>
                      )}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          </div>
        )}

        <div className="wizard__footer">
          <Button onClick={onCancel}>Cancel</Button>
          <p id={blockerId} className="wizard__blocker">
            {blocker &&
              (isReview
                ? `Fix ${fieldLabel(blocker).toLowerCase()} first.`
                : `To continue: ${fieldLabel(blocker)} — ${form.errors[blocker]}`)}
          </p>
          {stepIndex > 0 && (
            <Button onClick={() => goTo(stepIndex - 1)} disabled={submitting}>
              Back
            </Button>
          )}
          <Button
            type="submit"
            variant="primary"
            disabled={!stepValid}
            busy={submitting}
            busyLabel="Creating…"
            aria-describedby={blocker ? blockerId : undefined}
          >
            {isReview ? 'Create VM' : 'Next'}
          </Button>
        </div>
      </form>
    </div>
  );
}
