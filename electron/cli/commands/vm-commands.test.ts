/**
 * The VM commands end to end, as a user runs them: `nestbox create`, `list`, `start`,
 * `console`, `screenshot`, `pause`, `resume`, `stop`, `delete`, each a separate CLI process
 * (from source) on a library in a temporary NESTBOX_HOME, with VM hosts that outlive the
 * command that started them. Every step runs twice: with the real VM host process around a
 * scripted machine that behaves like the echo test guest (scripted-machines.ts, through
 * NESTBOX_VM_HOST; no /dev/kvm needed, so it always runs), and booting the echo test guest on
 * the real /dev/kvm (skipped, with the reason, where the machine has no KVM device node).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGuests } from '../../../native/test/guests/build-guests.ts';
import { runNestbox, type NestboxResult } from '../../../native/test/guests/run-nestbox.ts';
import { kvmSkipReason } from '../../../native/test/kvm-for-tests.ts';
import { scriptedCliEnv } from '../../serve/testing/scripted-host.ts';
import { isHostProcessAlive, readHostRecord } from '../../services/vm-host/runtime-files.ts';

const KILL_AFTER_MS = 60_000;

interface ListedJson {
  root: string;
  vms: {
    name: string;
    id: string;
    folder: string;
    state: string;
    pid?: number;
    lastExit?: { state: string; error?: { code?: string; message: string } };
  }[];
  broken: { folder: string; code: string; message: string }[];
}

interface Variant {
  title: string;
  skip: string | false;
  /** The echo guest's kernel, and what the CLI's environment adds to run its VM host. */
  platform(home: string): { kernel: string; env: NodeJS.ProcessEnv };
}

const variants: Variant[] = [
  {
    title: '(scripted machine)',
    skip: false,
    platform(home) {
      // The scripted machine boots no kernel, but reads it, as the native core does.
      const kernel = path.join(home, 'kernels', 'echo.elf');
      mkdirSync(path.dirname(kernel));
      writeFileSync(kernel, 'scripted echo guest\n');
      return { kernel, env: scriptedCliEnv({}, 'echo') };
    },
  },
  {
    title: '(test guest on /dev/kvm)',
    skip: kvmSkipReason(),
    platform: () => ({ kernel: buildGuests().elf.echo, env: {} }),
  },
];

function describeVmCommands(variant: Variant): void {
  describe(`nestbox VM commands ${variant.title}`, () => {
    let kernel = '';
    let home = '';
    let env: NodeJS.ProcessEnv;

    function nestbox(args: string[], input?: string): Promise<NestboxResult> {
      return runNestbox(args, {
        env,
        killAfterMs: KILL_AFTER_MS,
        ...(input !== undefined ? { input } : {}),
      });
    }

    async function ok(args: string[], input?: string): Promise<NestboxResult> {
      const run = await nestbox(args, input);
      assert.equal(run.status, 0, `nestbox ${args.join(' ')}: ${run.stderr}`);
      return run;
    }

    async function listed(): Promise<ListedJson> {
      return JSON.parse((await ok(['list', '--json'])).stdout) as ListedJson;
    }

    async function stateOf(name: string): Promise<string | undefined> {
      return (await listed()).vms.find((vm) => vm.name === name)?.state;
    }

    before(() => {
      if (variant.skip) return;
      home = mkdtempSync(path.join(tmpdir(), 'nestbox-cli-vms-'));
      const platform = variant.platform(home);
      kernel = platform.kernel;
      env = {
        ...platform.env,
        NESTBOX_HOME: home,
        // Deleting goes to "the desktop trash": keep it inside the test's folder.
        HOME: path.join(home, 'home'),
        XDG_DATA_HOME: path.join(home, 'home', '.local', 'share'),
        // Without a runtime folder the socket goes into the VM's folder.
        XDG_RUNTIME_DIR: undefined,
      };
    });

    after(async () => {
      if (home === '') return;
      // A failed test may leave a VM running: stop it the hard way.
      const vms = path.join(home, 'vms');
      for (const name of ['echo', 'broken disk']) {
        const host = await readHostRecord(path.join(vms, name));
        if (host.kind === 'ok' && isHostProcessAlive(host.record.pid)) {
          process.kill(host.record.pid, 'SIGKILL');
        }
      }
      rmSync(home, { recursive: true, force: true });
    });

    test(
      'create makes a VM; bad arguments exit 2 with the reason',
      { skip: variant.skip },
      async () => {
        const run = await ok(['create', 'echo', '--kernel', kernel, '--memory', '64']);
        assert.match(run.stdout, /^Created "echo" \([0-9a-f-]{36}\) in .*\/vms\/echo\n/);
        const cases: [string[], RegExp][] = [
          [['create'], /NAME required/],
          [['create', 'x'], /--kernel FILE is required/],
          [['create', 'x', '--kernel', path.join(home, 'nope')], /kernel file not found/],
          [
            ['create', 'x', '--kernel', kernel, '--cpus', '0'],
            /--cpus must be a whole number from 1 to 64/,
          ],
          [
            ['create', 'x', '--kernel', kernel, '--disk-size', 'lots'],
            /--disk-size must be a size/,
          ],
          [['create', ' ', '--kernel', kernel], /name: /],
          [['start'], /NAME required/],
          [['screenshot', 'echo'], /FILE required/],
          [['stop', 'echo', '--timeout=-1'], /--timeout must be a positive number/],
          [['list', 'extra'], /unexpected argument "extra"/],
        ];
        const runs = await Promise.all(cases.map(([args]) => nestbox(args)));
        cases.forEach(([args, message], i) => {
          assert.equal(runs[i]?.status, 2, `${args.join(' ')}: ${runs[i]?.stderr}`);
          assert.match(runs[i]?.stderr ?? '', message, args.join(' '));
        });
      },
    );

    test(
      'list shows the VM off; start returns with the VM running on its own',
      { skip: variant.skip },
      async () => {
        const before = await listed();
        assert.equal(before.root, path.join(home, 'vms'));
        assert.deepEqual(
          before.vms.map((vm) => [vm.name, vm.state]),
          [['echo', 'off']],
        );
        assert.deepEqual(before.broken, []);

        const start = await ok(['start', 'echo']);
        assert.match(
          start.stdout,
          /^Started "echo" \(VM host pid \d+\); log: .*\/vms\/echo\/logs\/vm\.log\n$/,
        );
        // The CLI process has exited; the VM runs on in its host.
        const after = await listed();
        const vm = after.vms[0];
        assert.equal(vm?.state, 'running');
        assert.ok(vm.pid !== undefined && isHostProcessAlive(vm.pid));

        const again = await nestbox(['start', 'echo']);
        assert.equal(again.status, 1);
        assert.match(again.stderr, /^nestbox: "echo" is already running \(VM host pid \d+\)$/m);

        const human = await ok(['list']);
        assert.match(human.stdout, /^NAME +STATE +ID\necho +running +[0-9a-f-]{36}\n$/);
      },
    );

    test(
      'console: a line sent to the echo guest comes back; the VM keeps running',
      { skip: variant.skip },
      async () => {
        const run = await ok(['console', 'echo'], 'hello console\n');
        assert.equal(run.stdout, 'hello console\n');
        assert.equal(run.stderr, '');
        assert.equal(await stateOf('echo'), 'running');
      },
    );

    test('screenshot writes a PNG of the screen', { skip: variant.skip }, async () => {
      const file = path.join(home, 'screen.png');
      const run = await ok(['screenshot', 'echo', file]);
      assert.equal(run.stdout, `Saved a 1024×768 screenshot of "echo" to ${file}\n`);
      const png = readFileSync(file);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.equal(png.readUInt32BE(16), 1024);
      assert.equal(png.readUInt32BE(20), 768);
    });

    test('pause and resume; delete refuses a running VM', { skip: variant.skip }, async () => {
      const pause = await ok(['pause', 'echo', '--json']);
      assert.equal(JSON.parse(pause.stdout).state, 'paused');
      assert.equal(await stateOf('echo'), 'paused');
      const resume = await ok(['resume', 'echo']);
      assert.equal(resume.stdout, 'Resumed "echo"\n');
      assert.equal(await stateOf('echo'), 'running');

      const refused = await nestbox(['delete', 'echo']);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /"echo" is running\. Power it off before deleting it\./);
    });

    test(
      'stop --force powers off; then the VM is off, and stop is a no-op',
      { skip: variant.skip },
      async () => {
        const stop = await ok(['stop', 'echo', '--force']);
        assert.equal(stop.stdout, 'Stopped "echo" (powered-off)\n');
        const vm = (await listed()).vms[0];
        assert.equal(vm?.state, 'off');
        assert.equal(vm.pid, undefined);
        assert.equal(vm.lastExit?.state, 'stopped');

        const again = await ok(['stop', 'echo']);
        assert.equal(again.stdout, '"echo" is not running\n');
        const pause = await nestbox(['pause', 'echo']);
        assert.equal(pause.status, 1);
        assert.match(pause.stderr, /^nestbox: "echo" is not running$/m);
        const missing = await nestbox(['start', 'no such vm']);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /there is no VM named "no such vm"/);
      },
    );

    test('delete moves the VM out of the library', { skip: variant.skip }, async () => {
      const run = await ok(['delete', 'echo']);
      assert.match(run.stdout, /^Deleted "echo": moved .*\/vms\/echo to the trash/);
      assert.deepEqual((await listed()).vms, []);
    });

    test(
      'start with a corrupt disk image exits 1 with the image problem',
      { skip: variant.skip },
      async () => {
        await ok([
          'create',
          'broken disk',
          '--kernel',
          kernel,
          '--memory',
          '64',
          '--disk-size',
          '16M',
        ]);
        const disk = path.join(home, 'vms', 'broken disk', 'disk.qcow2');
        const bytes = readFileSync(disk);
        bytes.fill(0xff, 8, 16); // the backing file offset, far past the end of the file
        writeFileSync(disk, bytes);

        const run = await nestbox(['start', 'broken disk']);
        assert.equal(run.status, 1, run.stderr);
        assert.equal(run.stdout, '');
        assert.ok(
          run.stderr.startsWith(
            `nestbox: cannot start "broken disk": ${disk}: corrupt qcow2 image`,
          ),
          run.stderr,
        );
        assert.match(run.stderr, /\[IMAGE_CORRUPT\]\n$/);
        const vm = (await listed()).vms[0];
        assert.equal(vm?.state, 'off');
        assert.equal(vm.lastExit?.state, 'start-failed');
        assert.equal(vm.lastExit.error?.code, 'IMAGE_CORRUPT');
        assert.match((await ok(['list'])).stdout, /broken disk +off \(start failed\)/);
        await ok(['delete', 'broken disk', '--permanently']);
      },
    );
  });
}

for (const variant of variants) describeVmCommands(variant);
