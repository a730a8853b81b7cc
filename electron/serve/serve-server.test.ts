import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { WireError } from '../common/contract.ts';
import type { HostInfo, KvmStatus } from '../common/host-info.ts';
import { createRequestHandlers } from '../services/request-handlers.ts';
import { contentSecurityPolicy } from '../services/web/content-security-policy.ts';
import { startServeServer, type ServeServer } from './serve-server.ts';

const usable: KvmStatus = { ok: true, devicePath: '/dev/kvm', apiVersion: 12 };

let base: string;
let tokenFile: string;
let server: ServeServer;

before(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'nestbox-serve-'));
  const rendererDir = path.join(base, 'dist', 'renderer');
  await mkdir(path.join(rendererDir, 'assets'), { recursive: true });
  await writeFile(path.join(rendererDir, 'index.html'), '<!doctype html><h1>This computer</h1>');
  await writeFile(path.join(rendererDir, 'assets', 'app.js'), 'export {}');
  await writeFile(path.join(base, 'dist', 'package.json'), '{"name":"outside"}');
  tokenFile = path.join(base, 'runtime', 'nestbox', 'serve-token');
  server = await startServeServer({
    handlers: createRequestHandlers({
      appVersion: '0.1.0',
      loadNativeAddon: () => ({ probeKvm: () => usable }),
    }),
    rendererDir,
    tokenFilePath: tokenFile,
    logError: () => {},
  });
});
after(async () => {
  await server.close();
  await rm(base, { recursive: true, force: true });
});

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request: fetch() would normalise `..` in the path before sending it. */
function send(
  method: string,
  rawPath: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: server.port, method, path: rawPath, headers: options.headers },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

const bearer = () => ({ Authorization: `Bearer ${server.token}` });

test('prints a loopback URL carrying a 256-bit token', () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
  assert.equal(server.url, `http://127.0.0.1:${server.port}/?token=${server.token}`);
});

test('API requests without the token or with a wrong one get 401 JSON', async () => {
  const wrongToken = `${server.token.slice(0, -1)}${server.token.endsWith('A') ? 'B' : 'A'}`;
  const attempts: Record<string, string>[] = [
    {},
    { Authorization: `Bearer ${wrongToken}` },
    { Authorization: `Basic ${server.token}` },
    { Authorization: `Bearer ${server.token}x` },
    { Authorization: 'Bearer' },
  ];
  for (const headers of attempts) {
    const response = await send('POST', '/api/host.info', { headers });
    assert.equal(response.status, 401, JSON.stringify(headers));
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal((JSON.parse(response.body) as WireError).error.code, 'unauthorized');
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="nestbox"');
  }
  // Not even unknown channels or wrong methods answer differently before authentication.
  assert.equal((await send('GET', '/api/no.such')).status, 401);
});

test('POST /api/host.info with the token answers 200 JSON HostInfo', async () => {
  const response = await send('POST', '/api/host.info', { headers: bearer() });
  assert.equal(response.status, 200);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  assert.equal(response.headers['cache-control'], 'no-store');
  const info = JSON.parse(response.body) as HostInfo;
  assert.deepEqual(info.kvm, usable);
  assert.equal(info.hostname, os.hostname());
  assert.equal(info.versions.nestbox, '0.1.0');

  const withJsonBody = await send('POST', '/api/host.info', {
    headers: { ...bearer(), 'Content-Type': 'application/json' },
    body: '{}',
  });
  assert.equal(withJsonBody.status, 200);
});

test('unknown channels are 404 and other methods 405, as WireError JSON', async () => {
  const unknown = await send('POST', '/api/vm.delete', { headers: bearer() });
  assert.equal(unknown.status, 404);
  assert.equal((JSON.parse(unknown.body) as WireError).error.code, 'not-found');

  const wrongMethod = await send('GET', '/api/host.info', { headers: bearer() });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, 'POST');
  assert.equal((JSON.parse(wrongMethod.body) as WireError).error.code, 'method-not-allowed');
});

test('POST /api/vms.import is served like every channel: a relative folder is 400 on its field', async () => {
  const response = await send('POST', '/api/vms.import', {
    headers: { ...bearer(), 'Content-Type': 'application/json' },
    body: JSON.stringify({ folder: 'VMs/web' }),
  });
  assert.equal(response.status, 400);
  const body = JSON.parse(response.body) as WireError;
  assert.equal(body.error.code, 'bad-request');
  assert.deepEqual(
    body.error.issues?.map((issue) => issue.path),
    ['folder'],
  );
  assert.match(body.error.issues?.[0]?.message ?? '', /must be an absolute path/);
});

test('bad bodies get 400, 413 and 415', async () => {
  const json = { ...bearer(), 'Content-Type': 'application/json' };
  const malformed = await send('POST', '/api/host.info', { headers: json, body: '{' });
  assert.equal(malformed.status, 400);
  const unexpected = await send('POST', '/api/host.info', { headers: json, body: '{"a":1}' });
  assert.equal(unexpected.status, 400);
  assert.equal((JSON.parse(unexpected.body) as WireError).error.code, 'bad-request');
  const form = await send('POST', '/api/host.info', {
    headers: { ...bearer(), 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'a=1',
  });
  assert.equal(form.status, 415);
  const huge = await send('POST', '/api/host.info', {
    headers: json,
    body: JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) }),
  });
  assert.equal(huge.status, 413);
});

test('serves the renderer with the CSP and without needing the token', async () => {
  const page = await send('GET', '/?token=whatever');
  assert.equal(page.status, 200);
  assert.match(page.body, /This computer/);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['content-security-policy'], contentSecurityPolicy);
  assert.equal(page.headers['referrer-policy'], 'no-referrer');

  const script = await send('GET', '/assets/app.js');
  assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(script.headers['content-security-policy'], contentSecurityPolicy);

  const head = await send('HEAD', '/index.html');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal((await send('POST', '/index.html')).status, 405);
  assert.equal((await send('GET', '/missing.js')).status, 404);
});

test('refuses path traversal, plain and percent-encoded', async () => {
  for (const rawPath of [
    '/../package.json',
    '/../../package.json',
    '/%2e%2e/package.json',
    '/%2E%2E/%2e%2e/package.json',
    '/assets/..%2f..%2fpackage.json',
    '/..%5cpackage.json',
  ]) {
    const response = await send('GET', rawPath);
    assert.ok(response.status === 404 || response.status === 400, `${rawPath}: ${response.status}`);
    assert.doesNotMatch(response.body, /outside|"name"/, rawPath);
  }
});

test('refuses requests addressed to another host name (DNS rebinding)', async () => {
  const response = await send('GET', '/', { headers: { Host: 'attacker.example:80' } });
  assert.equal(response.status, 421);
  const tunnelled = await send('GET', '/', { headers: { Host: 'localhost:8080' } });
  assert.equal(tunnelled.status, 200);
});

test('publishes the token in a 0600 file inside a 0700 directory', async () => {
  assert.equal(await readFile(tokenFile, 'utf8'), `${server.token}\n`);
  assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
  assert.equal((await stat(path.dirname(tokenFile))).mode & 0o777, 0o700);
});

test('close() stops listening and removes its token file', async () => {
  const second = await startServeServer({
    handlers: createRequestHandlers({
      appVersion: '0.1.0',
      loadNativeAddon: () => ({ probeKvm: () => usable }),
    }),
    rendererDir: base,
    tokenFilePath: path.join(base, 'second', 'serve-token'),
  });
  // A keep-alive connection must not hold close() open.
  const agentResponse = await fetch(`http://127.0.0.1:${second.port}/api/host.info`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${second.token}` },
  });
  assert.equal(agentResponse.status, 200);
  await second.close();
  await assert.rejects(stat(path.join(base, 'second', 'serve-token')), { code: 'ENOENT' });
  await assert.rejects(fetch(`http://127.0.0.1:${second.port}/`));
});
