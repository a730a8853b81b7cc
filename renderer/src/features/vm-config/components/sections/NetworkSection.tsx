import { useId } from 'react';
import { Button } from '../../../../components/Button.tsx';
import { ChoiceGroup } from '../../../../components/form/ChoiceGroup.tsx';
import { PlusIcon, TrashIcon } from '../../../../components/icons.tsx';
import { emptyPortForward, type PortForwardDraft } from '../../model/vm-form.ts';
import { vmLimits } from '../../model/vm-limits.ts';
import type { SectionProps } from './section-props.ts';

/** NAT or no network, and the ports of this computer forwarded into the guest. */
export function NetworkSection(props: SectionProps) {
  const { form, lockNote } = props;
  const modeNote = lockNote?.('hardware.network.mode');
  return (
    <div className="form-section">
      <ChoiceGroup
        legend="Network"
        layout="cards"
        value={form.values.networkMode}
        onChange={(value) => form.set('networkMode', value)}
        disabled={modeNote !== undefined}
        note={modeNote}
        choices={[
          {
            value: 'nat',
            label: 'NAT',
            description:
              'The guest reaches the network through this computer; nothing reaches the guest unless forwarded.',
          },
          { value: 'none', label: 'None', description: 'No network card.' },
        ]}
      />
      {form.values.networkMode === 'nat' && <PortForwardsEditor {...props} />}
    </div>
  );
}

function PortForwardsEditor({ form, lockNote }: SectionProps) {
  const { values, update, touch, errorFor } = form;
  const note = lockNote?.('hardware.network.portForwards');
  const locked = note !== undefined;
  const headingId = useId();
  const errorIdBase = useId();

  function change(index: number, patch: Partial<PortForwardDraft>) {
    update((current) => ({
      portForwards: current.portForwards.map((forward, i) =>
        i === index ? { ...forward, ...patch } : forward,
      ),
    }));
  }

  return (
    <section className="port-forwards" aria-labelledby={headingId}>
      <h3 id={headingId} className="form-section__subtitle">
        Port forwards
      </h3>
      <p className="field__hint">
        Connections to a port of this computer go to a port of the guest, e.g. host 2222 to guest 22
        for SSH. 127.0.0.1 keeps a port private to this computer.
      </p>
      {note && <p className="field__note">{note}</p>}
      {errorFor('portForwards') && <p className="field__error">{errorFor('portForwards')}</p>}
      {values.portForwards.length > 0 && (
        <ol className="port-forwards__list">
          {values.portForwards.map((forward, index) => {
            const rule = index + 1;
            const fieldErrors = (['hostAddress', 'hostPort', 'guestPort'] as const)
              .map((part) => ({ part, message: errorFor(`portForwards.${index}.${part}`) }))
              .filter((entry): entry is { part: typeof entry.part; message: string } =>
                Boolean(entry.message),
              );
            const errorId = (part: string) => `${errorIdBase}-${index}-${part}`;
            const described = (part: string) =>
              fieldErrors.some((entry) => entry.part === part) ? errorId(part) : undefined;
            return (
              <li key={forward.key} className="port-forward">
                <div className="port-forward__fields">
                  <label className="port-forward__field">
                    <span className="port-forward__label">Protocol</span>
                    <select
                      className="select"
                      aria-label={`Protocol, rule ${rule}`}
                      value={forward.protocol}
                      disabled={locked}
                      onChange={(event) =>
                        change(index, { protocol: event.target.value as 'tcp' | 'udp' })
                      }
                    >
                      <option value="tcp">TCP</option>
                      <option value="udp">UDP</option>
                    </select>
                  </label>
                  <label className="port-forward__field port-forward__field--wide">
                    <span className="port-forward__label">Host address</span>
                    <input
                      className="input input--mono"
                      aria-label={`Host address, rule ${rule}`}
                      aria-invalid={described('hostAddress') ? true : undefined}
                      aria-describedby={described('hostAddress')}
                      value={forward.hostAddress}
                      disabled={locked}
                      onChange={(event) => change(index, { hostAddress: event.target.value })}
                      onBlur={() => touch(`portForwards.${index}.hostAddress`)}
                    />
                  </label>
                  <label className="port-forward__field">
                    <span className="port-forward__label">Host port</span>
                    <input
                      className="input input--number"
                      inputMode="numeric"
                      aria-label={`Host port, rule ${rule}`}
                      aria-invalid={described('hostPort') ? true : undefined}
                      aria-describedby={described('hostPort')}
                      value={forward.hostPort}
                      disabled={locked}
                      onChange={(event) => change(index, { hostPort: event.target.value })}
                      onBlur={() => touch(`portForwards.${index}.hostPort`)}
                    />
                  </label>
                  <span className="port-forward__arrow" aria-hidden="true">
                    →
                  </span>
                  <label className="port-forward__field">
                    <span className="port-forward__label">Guest port</span>
                    <input
                      className="input input--number"
                      inputMode="numeric"
                      aria-label={`Guest port, rule ${rule}`}
                      aria-invalid={described('guestPort') ? true : undefined}
                      aria-describedby={described('guestPort')}
                      value={forward.guestPort}
                      disabled={locked}
                      onChange={(event) => change(index, { guestPort: event.target.value })}
                      onBlur={() => touch(`portForwards.${index}.guestPort`)}
                    />
                  </label>
                  {!locked && (
                    <Button
                      variant="ghost"
                      size="small"
                      className="port-forward__remove"
                      aria-label={`Remove rule ${rule}`}
                      onClick={() =>
                        update((current) => ({
                          portForwards: current.portForwards.filter((_, i) => i !== index),
                        }))
                      }
                    >
                      <TrashIcon />
                    </Button>
                  )}
                </div>
                {fieldErrors.map(({ part, message }) => (
                  <p key={part} id={errorId(part)} className="field__error">
                    {message}
                  </p>
                ))}
              </li>
            );
          })}
        </ol>
      )}
      {!locked && values.portForwards.length < vmLimits.maxPortForwards && (
        <div>
          <Button
            size="small"
            onClick={() =>
              update((current) => ({ portForwards: [...current.portForwards, emptyPortForward()] }))
            }
          >
            <PlusIcon />
            Add port forward
          </Button>
        </div>
      )}
    </section>
  );
}
