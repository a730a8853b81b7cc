import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './cli.ts';
import { ExitCode, type CliContext, type Command } from './command.ts';
import { parseOptions } from './parse-options.ts';

interface Captured {
  context: CliContext;
  stdout: string[];
  stderr: string[];
}

function capture(): Captured {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    context: {
      stdout: (line) => stdout.push(line),
      stderr: (line) => stderr.push(line),
      env: {},
      appRoot: '/nowhere',
      appVersion: '4.5.6',
      shutdown: new AbortController().signal,
    },
  };
}

/** A command that records its arguments and accepts only --flag. */
function recordingCommand(received: (readonly string[])[]): Command {
  return {
    name: 'demo',
    summary: 'A demonstration command',
    usage: 'Usage: nestbox demo [--flag]',
    async run(args) {
      parseOptions(args, { flag: { type: 'boolean' } });
      received.push(args);
      return ExitCode.ok;
    },
  };
}

test('--help lists the commands and the exit codes', async () => {
  const out = capture();
  assert.equal(await runCli(['--help'], [recordingCommand([])], out.context), 0);
  const help = out.stdout.join('\n');
  assert.match(help, /^Usage: nestbox/);
  assert.match(help, /demo\s+A demonstration command/);
  assert.match(help, /0\s+success/);
  assert.match(help, /1\s+failure/);
  assert.match(help, /2\s+bad command line arguments/);
  assert.equal(await runCli(['-h'], [], capture().context), 0);
});

test('--version prints the version alone', async () => {
  const out = capture();
  assert.equal(await runCli(['--version'], [], out.context), 0);
  assert.deepEqual(out.stdout, ['4.5.6']);
});

test('dispatches to the command with the remaining arguments', async () => {
  const received: (readonly string[])[] = [];
  const out = capture();
  assert.equal(await runCli(['demo', '--flag'], [recordingCommand(received)], out.context), 0);
  assert.deepEqual(received, [['--flag']]);
});

test('bad arguments exit 2 with a message and a pointer to --help', async () => {
  const cases: [string[], RegExp][] = [
    [[], /no command given/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--bogus'], /--bogus/],
    [['demo', '--bogus'], /--bogus/],
    [['demo', 'positional'], /positional/],
  ];
  for (const [argv, message] of cases) {
    const out = capture();
    assert.equal(await runCli(argv, [recordingCommand([])], out.context), 2, argv.join(' '));
    assert.match(out.stderr.join('\n'), message, argv.join(' '));
    assert.match(out.stderr.join('\n'), /--help/, argv.join(' '));
    assert.deepEqual(out.stdout, []);
  }
  // Only a command that exists gets pointed at its own help.
  const unknown = capture();
  await runCli(['frobnicate'], [recordingCommand([])], unknown.context);
  assert.doesNotMatch(unknown.stderr.join('\n'), /nestbox frobnicate --help/);
  const known = capture();
  await runCli(['demo', '--bogus'], [recordingCommand([])], known.context);
  assert.match(known.stderr.join('\n'), /nestbox demo --help/);
});

test('a failing command exits 1 with its message', async () => {
  const failing: Command = {
    name: 'broken',
    summary: 'fails',
    usage: '',
    run: async () => {
      throw new Error('/dev/kvm: permission denied');
    },
  };
  const out = capture();
  assert.equal(await runCli(['broken'], [failing], out.context), 1);
  assert.deepEqual(out.stderr, ['nestbox: /dev/kvm: permission denied']);
});
