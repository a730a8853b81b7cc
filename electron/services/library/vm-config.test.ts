import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleConfig } from './test-fixtures.ts';
import { formatIssues, type ValidationIssue } from './validation.ts';
import { generateMacAddress, serializeVmConfig, validateVmConfig } from './vm-config.ts';

/** Deletes the field in `changed`. */
const REMOVE = Symbol('remove');

/**
 * The sample config as plain JSON with some fields changed, by dotted path
 * ('hardware.disks.0.format'), to break it on purpose.
 */
function changed(edits: Record<string, unknown> = {}): unknown {
  const document: unknown = JSON.parse(JSON.stringify(sampleConfig()));
  for (const [fieldPath, value] of Object.entries(edits)) {
    const keys = fieldPath.split('.');
    const last = keys.pop() ?? '';
    let parent = document as Record<string, unknown>;
    for (const key of keys) parent = parent[key] as Record<string, unknown>;
    if (value === REMOVE) Reflect.deleteProperty(parent, last);
    else parent[last] = value;
  }
  return document;
}

function issuesOf(value: unknown): ValidationIssue[] {
  const result = validateVmConfig(value);
  assert.equal(result.ok, false, 'expected the config to be refused');
  return result.ok ? [] : result.issues;
}

function messages(value: unknown): string {
  return formatIssues(issuesOf(value));
}

test('a complete config is accepted as is', () => {
  assert.deepEqual(validateVmConfig(changed()), { ok: true, value: sampleConfig() });
});

test('serializing and validating round-trips, with fields in schema order', () => {
  const config = sampleConfig();
  const text = serializeVmConfig(config);
  assert.ok(text.endsWith('}\n'));
  assert.deepEqual(validateVmConfig(JSON.parse(text)), { ok: true, value: config });
  assert.deepEqual(Object.keys(JSON.parse(text)), [
    'schemaVersion',
    'id',
    'name',
    'notes',
    'guestOs',
    'createdAt',
    'hardware',
    'boot',
  ]);
});

test('each problem names its field path and what is wrong', () => {
  const config = changed({
    'hardware.memoryMiB': 12.5,
    'hardware.disks.0.format': 'vmdk',
    'hardware.network.portForwards.0.hostPort': 70000,
    guestOs: 'windows',
  });
  assert.deepEqual(
    issuesOf(config).map((issue) => issue.path),
    [
      'guestOs',
      'hardware.memoryMiB',
      'hardware.disks[0].format',
      'hardware.network.portForwards[0].hostPort',
    ],
  );
  const text = messages(config);
  assert.match(
    text,
    /^hardware\.memoryMiB: must be a whole number from 64 to 1048576 MiB, not 12\.5$/m,
  );
  assert.match(text, /^hardware\.disks\[0\]\.format: must be "qcow2" or "raw", not "vmdk"$/m);
  assert.match(text, /^guestOs: must be "linux" or "other", not "windows"$/m);
  assert.match(text, /^hardware\.network\.portForwards\[0\]\.hostPort: must be from 1 to 65535/m);
});

test('missing and unknown fields, with a hint for a wrong case', () => {
  const text = messages(
    changed({
      name: REMOVE,
      'hardware.memoryMiB': REMOVE,
      'hardware.memoryMib': 512,
      colour: 'blue',
    }),
  );
  assert.match(text, /^name: missing$/m);
  assert.match(text, /^hardware\.memoryMiB: missing$/m);
  assert.match(text, /^hardware\.memoryMib: unknown field \(did you mean "memoryMiB"\?\)$/m);
  assert.match(text, /^colour: unknown field$/m);
});

test('not an object at all', () => {
  assert.equal(messages([]), 'must be an object, not a list');
  assert.equal(messages('vm'), 'must be an object, not "vm"');
});

test('identity fields', () => {
  assert.match(messages(changed({ id: 'not-a-uuid' })), /^id: must be a UUID/);
  assert.match(messages(changed({ name: '   ' })), /^name: must not be empty$/);
  assert.match(messages(changed({ name: 'a\nb' })), /^name: must not contain control characters/);
  assert.match(messages(changed({ createdAt: 'yesterday' })), /^createdAt: must be a date/);
  assert.match(messages(changed({ schemaVersion: 0 })), /^schemaVersion: must be 1, not 0$/);
  // Notes may span lines.
  assert.equal(validateVmConfig(changed({ notes: 'line 1\nline 2' })).ok, true);
  // A UUID is stored in lower case.
  const upper = validateVmConfig(changed({ id: '3F2B8C1E-5D4A-4C1B-9E0F-1A2B3C4D5E6F' }));
  assert.ok(upper.ok && upper.value.id === '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f');
});

test('hardware limits match the VMM', () => {
  assert.match(
    messages(changed({ 'hardware.cpus': 0 })),
    /^hardware\.cpus: must be from 1 to 64, not 0$/,
  );
  assert.match(messages(changed({ 'hardware.cpus': 65 })), /^hardware\.cpus/);
  assert.match(messages(changed({ 'hardware.memoryMiB': 32 })), /from 64 to 1048576 MiB, not 32/);
  const seventeen = Array.from({ length: 17 }, (_, i) => ({ file: `${i}.raw`, format: 'raw' }));
  assert.match(
    messages(changed({ 'hardware.disks': seventeen })),
    /^hardware\.disks: may hold at most 16 entries, not 17$/,
  );
  const twice = [
    { file: 'disk.qcow2', format: 'qcow2' },
    { file: './disk.qcow2', format: 'qcow2' },
  ];
  assert.match(
    messages(changed({ 'hardware.disks': twice })),
    /^hardware\.disks\[1\]\.file: is the same image as hardware\.disks\[0\]$/,
  );
  assert.match(
    messages(changed({ 'hardware.disks.0.file': '' })),
    /disks\[0\]\.file: must not be empty/,
  );
  assert.match(
    messages(changed({ 'hardware.disks.0.readOnly': 'yes' })),
    /readOnly: must be true or false/,
  );
  assert.match(messages(changed({ 'hardware.serial': false })), /^hardware\.serial: must be true/);
});

test('display: size, power-of-two video memory, and the frame must fit', () => {
  const display = (value: unknown) => validateVmConfig(changed({ 'hardware.display': value }));
  assert.equal(display(null).ok, true);
  assert.equal(display({ width: 1920, height: 1080, vramMiB: 16 }).ok, true);
  assert.match(
    messages(changed({ 'hardware.display.width': 100 })),
    /^hardware\.display\.width: must be from 320 to 8192 pixels, not 100$/,
  );
  assert.match(
    messages(changed({ 'hardware.display.vramMiB': 12 })),
    /^hardware\.display\.vramMiB: must be a power of two/,
  );
  assert.match(
    messages(changed({ 'hardware.display': { width: 4096, height: 4096, vramMiB: 16 } })),
    /^hardware\.display: 4096x4096 at 32 bits per pixel does not fit in 16 MiB/,
  );
});

test('network: MAC, port forwards with defaults, duplicates', () => {
  const result = validateVmConfig(
    changed({ 'hardware.network.portForwards': [{ hostPort: 8080, guestPort: 80 }] }),
  );
  assert.ok(result.ok);
  assert.deepEqual(result.value.hardware.network.portForwards, [
    { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 },
  ]);

  const text = messages(
    changed({
      'hardware.network.macAddress': '01:00:5e:00:00:01',
      'hardware.network.portForwards': [
        { hostPort: 8080, guestPort: 80 },
        { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 81 },
        { protocol: 'sctp', hostAddress: 'localhost', hostPort: 1, guestPort: 0 },
      ],
    }),
  );
  assert.match(text, /macAddress: 01:00:5e:00:00:01 is not a unicast address/);
  assert.match(
    text,
    /portForwards\[1\]: forwards tcp 127\.0\.0\.1:8080 again \(already hardware\.network\.portForwards\[0\]\)/,
  );
  assert.match(text, /portForwards\[2\]\.protocol: must be "tcp" or "udp", not "sctp"/);
  assert.match(text, /portForwards\[2\]\.hostAddress: must be an IPv4 address/);
  assert.match(text, /portForwards\[2\]\.guestPort: must be from 1 to 65535, not 0/);
  assert.match(
    messages(changed({ 'hardware.network.mode': 'bridge' })),
    /^hardware\.network\.mode: must be "nat" or "none", not "bridge"$/,
  );
  assert.match(
    messages(changed({ 'hardware.network.macAddress': 'zz' })),
    /^hardware\.network\.macAddress: must look like/,
  );
});

test('boot: kernel boot now, later kinds named as such', () => {
  assert.equal(validateVmConfig(changed({ 'boot.initrd': REMOVE })).ok, true);
  assert.match(
    messages(changed({ boot: { kind: 'iso', image: 'x.iso' } })),
    /^boot\.kind: "iso" boot is not supported by this version of Nestbox/,
  );
  assert.match(messages(changed({ 'boot.kernel': REMOVE })), /^boot\.kernel: missing$/);
  assert.match(
    messages(changed({ 'boot.cmdline': 'x'.repeat(70000) })),
    /^boot\.cmdline: is 70000 bytes; the limit is 65535$/,
  );
});

test('generated MAC addresses are locally administered unicast', () => {
  for (let i = 0; i < 100; i += 1) {
    const mac = generateMacAddress();
    assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = Number.parseInt(mac.slice(0, 2), 16);
    assert.equal(first & 0b11, 0b10, mac);
  }
  assert.equal(
    generateMacAddress(() => new Uint8Array([0xff, 1, 2, 3, 4, 5])),
    'fe:01:02:03:04:05',
  );
});
