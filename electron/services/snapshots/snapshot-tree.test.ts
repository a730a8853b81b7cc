/**
 * tree.json validation and the layer planning, without any disk: every rule that keeps an
 * edited or damaged file from making the store touch the wrong file.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  nextMerge,
  pinnedLayers,
  planDeleteNode,
  planMerge,
  planRevert,
  planTake,
  pruneLayers,
  retainedLayers,
} from './layer-plan.ts';
import {
  parseTreeBytes,
  salvageCurrentOverlays,
  salvageResumePoint,
} from './snapshot-tree-file.ts';
import {
  emptySnapshotTree,
  serializeSnapshotTree,
  validateSnapshotTree,
  type SnapshotTreeDocument,
} from './snapshot-tree.ts';

const ids = {
  a: '00000000-0000-4000-8000-00000000000a',
  b: '00000000-0000-4000-8000-00000000000b',
  c: '00000000-0000-4000-8000-00000000000c',
};
const suspendFolder = 'suspend-7d3e2a10-1111-4222-8333-444455556666';

/** A (base) → B → current, and A → C; one disk. */
function sampleTree(): SnapshotTreeDocument {
  let tree = emptySnapshotTree(['disk.qcow2']);
  const take = (id: string, overlay: string) => {
    tree = planTake(tree, {
      id,
      name: id.slice(-1).toUpperCase(),
      description: '',
      kind: 'disk',
      createdAt: '2025-02-01T10:00:00.000Z',
      thumbnail: false,
      overlays: [overlay],
    });
  };
  take(ids.a, 'layers/o1.qcow2');
  take(ids.b, 'layers/o2.qcow2');
  tree = planRevert(tree, ids.a, ['layers/o3.qcow2']).document;
  take(ids.c, 'layers/o4.qcow2');
  return planRevert(tree, ids.b, ['layers/o5.qcow2']).document;
}

function issuesOf(raw: unknown): string[] {
  const result = validateSnapshotTree(raw);
  assert.equal(result.ok, false, 'expected the tree to be refused');
  return result.ok ? [] : result.issues.map((issue) => `${issue.path}: ${issue.message}`);
}

/** The JSON as a person editing it sees it: anything goes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type HandEdited = Record<string, any>;

function edited(edit: (raw: HandEdited) => void): unknown {
  const raw = JSON.parse(serializeSnapshotTree(sampleTree())) as HandEdited;
  edit(raw);
  return raw;
}

describe('validateSnapshotTree', () => {
  test('what the planner makes is valid and survives a round trip', () => {
    const tree = sampleTree();
    const result = validateSnapshotTree(JSON.parse(serializeSnapshotTree(tree)));
    assert.ok(result.ok);
    assert.deepEqual(result.value, tree);
    assert.deepEqual(
      tree.snapshots.map((s) => s.diskLayers),
      [[null], ['layers/o1.qcow2'], ['layers/o3.qcow2']],
    );
    assert.deepEqual(tree.current, {
      parentId: ids.b,
      overlays: ['layers/o5.qcow2'],
      resume: null,
    });
    assert.ok(validateSnapshotTree(JSON.parse(serializeSnapshotTree(emptySnapshotTree([])))).ok);
  });

  test('paths must stay inside snapshots/layers', () => {
    const cases: [string, RegExp][] = [
      ['../disk.qcow2', /stay inside the snapshots folder/],
      ['layers/../../disk.qcow2', /stay inside the snapshots folder/],
      ['/etc/passwd', /not the absolute path/],
      ['tree.json', /must be "layers\/<name>\.qcow2"/],
      ['layers/.hidden.qcow2', /must be "layers\/<name>\.qcow2"/],
      ['layers/sub/x.qcow2', /must be "layers\/<name>\.qcow2"/],
    ];
    for (const [file, message] of cases) {
      const issues = issuesOf(edited((raw) => (raw['layers'][0].file = file)));
      assert.match(issues[0] ?? '', /^layers\[0\]\.file: /);
      assert.match(issues[0] ?? '', message, file);
    }
    const backing = issuesOf(edited((raw) => (raw['layers'][1].backing = '../../etc/shadow')));
    assert.match(backing.join('\n'), /layers\[1\]\.backing: must stay inside/);
  });

  test('fields: unknown, missing, wrong type, bad ids and names', () => {
    const issues = issuesOf(
      edited((raw) => {
        raw['snapshots'][0].nmae = 'typo';
        delete raw['snapshots'][0].description;
        raw['snapshots'][1].id = 'not-an-id';
        raw['snapshots'][1].name = '   ';
        raw['snapshots'][2].createdAt = 'yesterday';
        raw['snapshots'][2].protectedBy = ['x'];
        raw['current'].overlays = [];
      }),
    ).join('\n');
    assert.match(issues, /snapshots\[0\]\.nmae: unknown field/);
    assert.match(issues, /snapshots\[0\]\.description: missing/);
    assert.match(issues, /snapshots\[1\]\.id: must be a snapshot id/);
    assert.match(issues, /snapshots\[1\]\.name: must not be empty/);
    assert.match(issues, /snapshots\[2\]\.createdAt: must be a date/);
    assert.match(issues, /snapshots\[2\]\.protectedBy\[0\]: must be a VM id/);
    assert.match(issues, /current\.overlays: must hold one entry per base disk \(1\), not 0/);
  });

  test('current.resume: optional on read, always written, only a suspend-<uuid> folder', () => {
    const older = edited((raw) => delete raw['current'].resume);
    const read = validateSnapshotTree(older);
    assert.ok(read.ok);
    assert.equal(read.value.current.resume, null, 'a tree from before suspending: not suspended');
    assert.match(serializeSnapshotTree(read.value), /"resume": null/);
    const suspended = validateSnapshotTree(
      edited((raw) => (raw['current'].resume = { folder: suspendFolder })),
    );
    assert.ok(suspended.ok);
    assert.deepEqual(suspended.value.current.resume, { folder: suspendFolder });
    assert.deepEqual(
      validateSnapshotTree(JSON.parse(serializeSnapshotTree(suspended.value))),
      suspended,
    );
    const cases: [unknown, RegExp][] = [
      [{ folder: '../vm.json' }, /current\.resume\.folder: must stay inside the snapshots folder/],
      [{ folder: `${suspendFolder}/..` }, /current\.resume\.folder: must stay inside/],
      [{ folder: '/tmp' }, /current\.resume\.folder: must be a folder .* not the absolute path/],
      [{ folder: 'C:\\suspend' }, /not the absolute path/],
      [{ folder: 'layers' }, /current\.resume\.folder: must be "suspend-<lower-case uuid>"/],
      [{ folder: `${suspendFolder}/ram.bin` }, /must be "suspend-<lower-case uuid>"/],
      [{ folder: suspendFolder.toUpperCase() }, /must be "suspend-<lower-case uuid>"/],
      [{ folder: ids.a }, /must be "suspend-<lower-case uuid>"/],
      [{ folder: '' }, /current\.resume\.folder: must not be empty/],
      [{}, /current\.resume\.folder: missing/],
      [{ folder: suspendFolder, ram: 'x' }, /current\.resume\.ram: unknown field/],
      [suspendFolder, /current\.resume: must be an object/],
    ];
    for (const [resume, message] of cases) {
      const issues = issuesOf(edited((raw) => (raw['current'].resume = resume)));
      assert.match(issues.join('\n'), message, JSON.stringify(resume));
    }
  });

  test('the tree as a whole: parents, cycles, ownership and layer chains', () => {
    assert.match(
      issuesOf(edited((raw) => (raw['snapshots'][1].parentId = ids.c.replace('c', 'f')))).join(),
      /snapshots\[1\]\.parentId: names .* not in the tree/,
    );
    assert.match(
      issuesOf(edited((raw) => (raw['snapshots'][0].parentId = ids.b))).join(),
      /its own ancestor/,
    );
    assert.match(
      issuesOf(edited((raw) => (raw['current'].overlays = ['layers/o1.qcow2']))).join(),
      /current\.overlays\[0\]: names layers\/o1\.qcow2, already used by snapshots\[1\]/,
    );
    assert.match(
      issuesOf(edited((raw) => (raw['current'].overlays = [null]))).join(),
      /only possible before the first snapshot/,
    );
    assert.match(
      issuesOf(edited((raw) => (raw['snapshots'][1].diskLayers = [null]))).join(),
      /only a root snapshot can have/,
    );
    // C's layer claims to sit on B's although C is a child of A.
    assert.match(
      issuesOf(
        edited((raw) => {
          const layer = raw['layers'].find((l: { file: string }) => l.file === 'layers/o3.qcow2');
          layer.backing = 'layers/o1.qcow2';
        }),
      ).join(),
      /snapshots\[2\]\.diskLayers\[0\]: names layers\/o3\.qcow2, whose backing chain reaches layers\/o1\.qcow2 instead of the base disk/,
    );
    assert.match(
      issuesOf(
        edited((raw) => {
          raw['layers'].push({ file: 'layers/x.qcow2', disk: 0, backing: 'layers/y.qcow2' });
          raw['layers'].push({ file: 'layers/y.qcow2', disk: 0, backing: 'layers/x.qcow2' });
        }),
      ).join(),
      /its own backing file/,
    );
  });
});

describe('reading tree.json', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  test('newer, corrupt and valid files are told apart', () => {
    const newer = parseTreeBytes('tree.json', bytes('{"schemaVersion": 7, "whatever": []}'));
    assert.equal(newer.status === 'problem' && newer.error.code, 'snapshot-tree-newer');
    const broken = parseTreeBytes('tree.json', bytes('{"schemaVersion": 1,\n  "baseDisks": [,]}'));
    assert.equal(broken.status === 'problem' && broken.error.code, 'snapshot-tree-corrupt');
    assert.match(broken.status === 'problem' ? broken.error.message : '', /line 2, column 17/);
    const binary = parseTreeBytes('tree.json', new Uint8Array([0xff, 0xfe]));
    assert.match(binary.status === 'problem' ? binary.error.message : '', /not UTF-8/);
    const good = parseTreeBytes('tree.json', bytes(serializeSnapshotTree(sampleTree())));
    assert.equal(good.status, 'ok');
  });

  test('salvaging the current overlays only when it is safe', () => {
    const raw = edited((r) => (r['snapshots'][0].kind = 'live'));
    assert.deepEqual(salvageCurrentOverlays(raw), {
      baseDisks: ['disk.qcow2'],
      overlays: ['layers/o5.qcow2'],
    });
    // An "overlay" that is a snapshot's frozen layer would be written: refused.
    assert.equal(
      salvageCurrentOverlays(edited((r) => (r['current'].overlays = ['layers/o1.qcow2']))),
      undefined,
    );
    assert.equal(
      salvageCurrentOverlays(edited((r) => (r['current'].overlays = ['../x.qcow2']))),
      undefined,
    );
    assert.equal(
      salvageCurrentOverlays(edited((r) => (r['current'].overlays = [null]))),
      undefined,
    );
    assert.equal(salvageCurrentOverlays('nonsense'), undefined);
  });

  test('salvaging the resume point: null only when the file clearly says "not suspended"', () => {
    assert.equal(salvageResumePoint(edited((r) => (r['snapshots'][0].kind = 'live'))), null);
    assert.equal(salvageResumePoint(edited((r) => delete r['current'].resume)), null);
    assert.deepEqual(
      salvageResumePoint(edited((r) => (r['current'].resume = { folder: suspendFolder }))),
      { folder: suspendFolder },
    );
    assert.equal(
      salvageResumePoint(edited((r) => (r['current'].resume = { folder: '../x' }))),
      undefined,
    );
    assert.equal(salvageResumePoint(edited((r) => (r['current'] = []))), undefined);
    assert.equal(salvageResumePoint('nonsense'), undefined);
  });
});

describe('layer planning', () => {
  test('deleting B keeps its layer until merged into what depends on it', () => {
    const tree = sampleTree();
    const { document, droppedLayers } = planDeleteNode(tree, ids.b);
    assert.deepEqual(droppedLayers, []);
    assert.deepEqual(
      retainedLayers(document).map((l) => l.file),
      ['layers/o1.qcow2'],
    );
    assert.equal(document.current.parentId, ids.a, 'the position moves up');
    // The VM runs on the overlay above B's layer: nothing can be merged now.
    assert.equal(nextMerge(document, pinnedLayers(document, { vmRunning: true })), undefined);
    const step = nextMerge(document, pinnedLayers(document, { vmRunning: false }));
    assert.deepEqual(step && [step.layer.file, step.dependent.file], [
      'layers/o1.qcow2',
      'layers/o5.qcow2',
    ]);
    const merged = step ? planMerge(document, step) : undefined;
    assert.deepEqual(merged?.droppedLayers, ['layers/o1.qcow2']);
    assert.equal(merged?.document.layers.find((l) => l.file === 'layers/o5.qcow2')?.backing, null);
  });

  test('a take and a delete keep the resume point; a revert drops it', () => {
    const tree = sampleTree();
    tree.current.resume = { folder: suspendFolder };
    const taken = planTake(tree, {
      id: ids.c.replace('c', 'd'),
      name: 'D',
      description: '',
      kind: 'disk',
      createdAt: '2025-02-04T10:00:00.000Z',
      thumbnail: false,
      overlays: ['layers/o6.qcow2'],
    });
    assert.deepEqual(taken.current.resume, { folder: suspendFolder });
    assert.ok(validateSnapshotTree(JSON.parse(serializeSnapshotTree(taken))).ok);
    assert.deepEqual(planDeleteNode(tree, ids.b).document.current.resume, {
      folder: suspendFolder,
    });
    assert.equal(planRevert(tree, ids.b, ['layers/o6.qcow2']).document.current.resume, null);
  });

  test('a leaf that is not the position goes at once; reverting drops the old overlay', () => {
    const tree = sampleTree();
    assert.deepEqual(planDeleteNode(tree, ids.c).droppedLayers, ['layers/o3.qcow2']);
    assert.deepEqual(planRevert(tree, ids.c, ['layers/o6.qcow2']).droppedLayers, [
      'layers/o5.qcow2',
    ]);
  });

  test('stacked hidden layers are merged from the top down', () => {
    const tree = sampleTree();
    // B deleted, a new snapshot taken on the same state, then deleted too.
    let document = planDeleteNode(tree, ids.b).document;
    document = pruneLayers(document).document;
    const more = planTake(document, {
      id: ids.b,
      name: 'B again',
      description: '',
      kind: 'disk',
      createdAt: '2025-02-02T10:00:00.000Z',
      thumbnail: false,
      overlays: ['layers/o7.qcow2'],
    });
    document = planDeleteNode(more, ids.b).document;
    // o5 (B again's layer, hidden) sits on o1 (B's layer, hidden): o5 is merged first.
    assert.deepEqual(
      retainedLayers(document)
        .map((l) => l.file)
        .sort(),
      ['layers/o1.qcow2', 'layers/o5.qcow2'],
    );
    const step = nextMerge(document, new Set());
    assert.deepEqual(step && [step.layer.file, step.dependent.file], [
      'layers/o5.qcow2',
      'layers/o7.qcow2',
    ]);
  });
});
