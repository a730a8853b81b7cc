import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../../app/App.tsx';
import { NestboxClientError } from '../../../client/client-error.ts';
import type { HostInfo, KvmProblem } from '../../../client/contract.ts';
import { fakeClient, hostInfo } from '../../../test/fakes.ts';

function notOk(problem: KvmProblem, message: string): HostInfo {
  return hostInfo({ kvm: { ok: false, devicePath: '/dev/kvm', problem, message } });
}

describe('This computer', () => {
  beforeEach(() => {
    // The library is the home screen; this one is a link away.
    window.location.hash = '#/this-computer';
  });

  it('says the machine is ready and shows its facts when KVM works', async () => {
    const client = fakeClient(async () =>
      hostInfo({
        hostname: 'build-box',
        cpuCount: 12,
        memoryBytes: 33_285_996_544, // 31 GiB
        kernelRelease: '6.8.0-45-generic',
        versions: { nestbox: '0.1.0', node: '22.9.0', electron: '45.4.1', chrome: '142.0.7444.52' },
      }),
    );
    render(<App client={client} />);

    expect(screen.getByRole('heading', { level: 1, name: 'This computer' })).toBeInTheDocument();
    const status = await screen.findByTestId('kvm-status');
    expect(status).toHaveTextContent('Ready to run virtual machines');
    expect(status).toHaveTextContent('KVM API version 12 on /dev/kvm');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();

    const machine = within(screen.getByRole('region', { name: 'Machine' }));
    expect(machine.getByText('12 logical CPUs')).toBeInTheDocument();
    expect(machine.getByText('31 GiB')).toBeInTheDocument();
    expect(machine.getByText('6.8.0-45-generic')).toBeInTheDocument();
    expect(machine.getByText('build-box')).toBeInTheDocument();

    const versions = within(screen.getByRole('region', { name: 'Versions' }));
    expect(versions.getByText('Electron').nextSibling).toHaveTextContent('45.4.1');
    expect(versions.getByText('Chromium').nextSibling).toHaveTextContent('142.0.7444.52');
    expect(versions.getByText('Node.js').nextSibling).toHaveTextContent('22.9.0');
    expect(versions.getByText('Nestbox').nextSibling).toHaveTextContent('0.1.0');
  });

  it('leaves out versions of parts that are not in use', async () => {
    render(<App client={fakeClient()} />);
    const versions = within(await screen.findByRole('region', { name: 'Versions' }));
    expect(versions.getByText('Node.js')).toBeInTheDocument();
    expect(versions.queryByText('Electron')).not.toBeInTheDocument();
    expect(versions.queryByText('Chromium')).not.toBeInTheDocument();
  });

  it('shows memory below 1 GiB in MiB', async () => {
    render(<App client={fakeClient(async () => hostInfo({ memoryBytes: 512 * 1024 ** 2 }))} />);
    expect(await screen.findByText('512 MiB')).toBeInTheDocument();
  });

  it('shows that it is checking while the answer is on its way', async () => {
    render(<App client={fakeClient(() => new Promise(() => {}))} />);
    // In a live region of its own (the header keeps another, for long operations).
    expect(screen.getByText('Checking this computer…').closest('[role="status"]')).not.toBeNull();
    expect(screen.queryByTestId('kvm-status')).not.toBeInTheDocument();
  });

  it('explains a permission problem with the fix', async () => {
    const message =
      '/dev/kvm: permission denied — add your user to the kvm group (sudo usermod -aG kvm $USER), then log out and back in';
    render(<App client={fakeClient(async () => notOk('permission', message))} />);

    const alert = await screen.findByRole('alert');
    expect(screen.getByTestId('kvm-status')).toContainElement(alert);
    expect(alert).toHaveTextContent('This computer can’t run virtual machines yet');
    expect(alert).toHaveTextContent(message);
    expect(alert).toHaveTextContent('sudo usermod -aG kvm $USER');
    expect(alert).toHaveTextContent('log out and back in');
    expect(screen.getByTestId('kvm-status')).not.toHaveTextContent('Ready to run');
    // The rest of the facts are still useful while KVM is unusable.
    expect(screen.getByText('8 logical CPUs')).toBeInTheDocument();
  });

  it.each<[KvmProblem, RegExp]>([
    ['missing', /firmware.*sudo modprobe kvm_intel.*sudo modprobe kvm_amd/],
    ['api-version', /kernel.*too old/],
    ['capability', /lacks a feature Nestbox needs.*Update to a current kernel/],
    ['error', /report it with the versions/],
  ])('gives a fix for the %s problem', async (problem, hint) => {
    render(<App client={fakeClient(async () => notOk(problem, `/dev/kvm: ${problem}`))} />);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(`/dev/kvm: ${problem}`);
    expect(alert).toHaveTextContent(hint);
  });

  it('checks again on request and shows when the problem is fixed', async () => {
    const user = userEvent.setup();
    const client = fakeClient();
    client.hostInfo.mockResolvedValueOnce(notOk('missing', '/dev/kvm does not exist'));
    render(<App client={client} />);

    await screen.findByRole('alert');
    await user.click(screen.getByRole('button', { name: 'Check again' }));

    expect(await screen.findByText('Ready to run virtual machines')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(client.hostInfo).toHaveBeenCalledTimes(2);
    // The pressed button is gone: focus lands on the screen's heading, not on <body>.
    expect(screen.getByRole('heading', { level: 1 })).toHaveFocus();
  });

  it('shows a transport error, and Retry asks again and recovers', async () => {
    const user = userEvent.setup();
    const client = fakeClient();
    client.hostInfo.mockRejectedValueOnce(
      new NestboxClientError(
        'unreachable',
        "Can't reach Nestbox — check that `nestbox serve` is still running, then try again.",
      ),
    );
    render(<App client={client} />);

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Couldn’t check this computer');
    expect(alert).toHaveTextContent(
      "Can't reach Nestbox — check that nestbox serve is still running, then try again.",
    );
    expect(screen.queryByTestId('kvm-status')).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Retry' }));

    expect(await screen.findByTestId('kvm-status')).toHaveTextContent('KVM API version 12');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
    expect(client.hostInfo).toHaveBeenCalledTimes(2);
  });

  it('keeps the error and Retry when retrying fails again', async () => {
    const user = userEvent.setup();
    const client = fakeClient(async () => {
      throw new Error('Nestbox could not answer "host.info" (HTTP 502 Bad Gateway).');
    });
    render(<App client={client} />);

    await user.click(await screen.findByRole('button', { name: 'Retry' }));

    await screen.findByRole('button', { name: 'Retry' });
    expect(screen.getByRole('alert')).toHaveTextContent('HTTP 502 Bad Gateway');
    expect(client.hostInfo).toHaveBeenCalledTimes(2);
  });
});
