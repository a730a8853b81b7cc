import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { contentSecurityPolicy } from './content-security-policy.ts';
import { loadRendererFile, resolveRendererPath } from './renderer-files.ts';

let base: string;
let root: string;

before(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'nestbox-renderer-'));
  root = path.join(base, 'renderer');
  await mkdir(path.join(root, 'assets'), { recursive: true });
  await writeFile(path.join(root, 'index.html'), '<!doctype html><h1>This computer</h1>');
  await writeFile(path.join(root, 'assets', 'index-abc.js'), 'console.log(1)');
  await writeFile(path.join(root, 'assets', 'index-abc.css'), 'body{}');
  await writeFile(path.join(root, 'favicon.svg'), '<svg/>');
  await writeFile(path.join(root, 'blob.xyz'), 'opaque');
  await writeFile(path.join(base, 'secret.txt'), 'outside the renderer');
  await symlink(path.join(base, 'secret.txt'), path.join(root, 'escape.txt'));
});
after(() => rm(base, { recursive: true, force: true }));

test('resolves paths inside the renderer directory, / to index.html', () => {
  assert.deepEqual(resolveRendererPath('/srv/r', '/'), { ok: true, filePath: '/srv/r/index.html' });
  assert.deepEqual(resolveRendererPath('/srv/r', '/assets/a%20b.js'), {
    ok: true,
    filePath: '/srv/r/assets/a b.js',
  });
});

test('refuses traversal in every spelling', () => {
  for (const urlPath of [
    '/../package.json',
    '/assets/../../package.json',
    '/%2e%2e/package.json',
    '/%2E%2E/%2e%2e/etc/passwd',
    '/assets/..%2f..%2fpackage.json',
    '/..',
  ]) {
    assert.equal(resolveRendererPath('/srv/r', urlPath).ok, false, urlPath);
  }
  for (const urlPath of ['/a%00.js', '/..%5c..%5cpackage.json', '/%zz', 'relative.js']) {
    assert.deepEqual(resolveRendererPath('/srv/r', urlPath), { ok: false, reason: 'malformed' });
  }
});

test('serves files with their MIME type and the CSP', async () => {
  const expectations: [string, string][] = [
    ['/', 'text/html; charset=utf-8'],
    ['/index.html', 'text/html; charset=utf-8'],
    ['/assets/index-abc.js', 'text/javascript; charset=utf-8'],
    ['/assets/index-abc.css', 'text/css; charset=utf-8'],
    ['/favicon.svg', 'image/svg+xml'],
    ['/blob.xyz', 'application/octet-stream'],
  ];
  for (const [urlPath, type] of expectations) {
    const response = await loadRendererFile(root, urlPath);
    assert.equal(response.status, 200, urlPath);
    assert.equal(response.headers['Content-Type'], type, urlPath);
    assert.equal(response.headers['Content-Security-Policy'], contentSecurityPolicy);
    assert.equal(response.headers['X-Content-Type-Options'], 'nosniff');
  }
  assert.match((await loadRendererFile(root, '/')).body.toString(), /This computer/);
});

test('answers 404 for missing files, directories and symlinks leading outside', async () => {
  for (const urlPath of ['/missing.js', '/assets', '/escape.txt', '/../secret.txt']) {
    const response = await loadRendererFile(root, urlPath);
    assert.equal(response.status, 404, urlPath);
    assert.doesNotMatch(response.body.toString(), /outside the renderer/);
  }
  assert.equal((await loadRendererFile(root, '/%zz')).status, 400);
});

test('the CSP allows only our own origin and forbids framing, plugins and base/form tricks', () => {
  const directives = new Map(
    contentSecurityPolicy.split(';').map((directive) => {
      const [name = '', ...values] = directive.trim().split(/\s+/);
      return [name, values.join(' ')];
    }),
  );
  assert.deepEqual(Object.fromEntries(directives), {
    'default-src': "'self'",
    'script-src': "'self'",
    'style-src': "'self'",
    'img-src': "'self' data: blob:",
    'connect-src': "'self'",
    'object-src': "'none'",
    'base-uri': "'none'",
    'frame-ancestors': "'none'",
    'form-action': "'none'",
  });
  assert.doesNotMatch(contentSecurityPolicy, /unsafe-inline|unsafe-eval|\*/);
});
