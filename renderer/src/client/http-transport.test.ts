import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACCESS_TOKEN_STORAGE_KEY } from './access-token.ts';
import { NestboxClientError } from './client-error.ts';
import type { SubscriptionEnd } from './contract.ts';
import { createClient } from './create-client.ts';
import { createHttpTransport, type WebSocketConstructor } from './http-transport.ts';
import { createNestboxClient } from './nestbox-client.ts';
import { hostInfo } from '../test/fakes.ts';

function json(status: number, body: unknown, statusText = ''): Response {
  return new Response(JSON.stringify(body), {
    status,
    statusText,
    headers: { 'Content-Type': 'application/json' },
  });
}

/** What the transport sent with its only fetch call. */
function sentRequest(fetchMock: ReturnType<typeof vi.fn<typeof fetch>>) {
  expect(fetchMock).toHaveBeenCalledTimes(1);
  const [url, init = {}] = fetchMock.mock.calls[0] ?? [];
  return { url, method: init.method, headers: new Headers(init.headers), body: init.body };
}

/** Open the page at `url`, as `nestbox serve` printed it or after a reload. */
function openPage(url: string) {
  window.history.replaceState(null, '', url);
}

describe('http transport (nestbox serve)', () => {
  const fetchMock = vi.fn<typeof fetch>();

  beforeEach(() => {
    vi.stubGlobal('fetch', fetchMock);
    fetchMock.mockReset();
  });

  afterEach(() => {
    openPage('/');
  });

  it('posts to /api/<channel> with the token from the URL, and returns the answer', async () => {
    openPage('/?token=s3cret-token#/this-computer');
    fetchMock.mockResolvedValue(json(200, hostInfo({ hostname: 'over-ssh' })));

    const client = createClient();
    const info = await client.hostInfo();

    expect(client.transport).toBe('http');
    expect(info.hostname).toBe('over-ssh');
    const sent = sentRequest(fetchMock);
    expect(sent.url).toBe('/api/host.info');
    expect(sent.method).toBe('POST');
    expect(sent.headers.get('Authorization')).toBe('Bearer s3cret-token');
    expect(sent.headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(String(sent.body))).toBeNull();
  });

  it('removes the token from the address bar and keeps it for reloads', async () => {
    openPage('/?token=s3cret-token&lang=en#/this-computer');

    createClient();

    expect(window.location.href).not.toContain('s3cret-token');
    expect(window.location.search).toBe('?lang=en');
    expect(window.location.hash).toBe('#/this-computer');
    expect(sessionStorage.getItem(ACCESS_TOKEN_STORAGE_KEY)).toBe('s3cret-token');

    // A reload: the URL no longer has the token, the tab's session still does.
    openPage('/#/this-computer');
    fetchMock.mockResolvedValue(json(200, hostInfo()));
    await createClient().hostInfo();
    expect(sentRequest(fetchMock).headers.get('Authorization')).toBe('Bearer s3cret-token');
  });

  it('turns a 401 into an error that says which URL to open', async () => {
    openPage('/?token=stale');
    fetchMock.mockResolvedValue(json(401, { error: { message: 'unauthorized' } }, 'Unauthorized'));

    const error = await createClient()
      .hostInfo()
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NestboxClientError);
    expect((error as NestboxClientError).kind).toBe('unauthorized');
    expect((error as Error).message).toBe(
      "This page's access token is missing or wrong — open the URL that `nestbox serve` printed.",
    );
  });

  it('asks without a token when the page has none, and reports the 401 the same way', async () => {
    openPage('/');
    fetchMock.mockResolvedValue(new Response(null, { status: 401 }));

    await expect(createClient().hostInfo()).rejects.toThrow(/access token is missing or wrong/);
    expect(sentRequest(fetchMock).headers.has('Authorization')).toBe(false);
  });

  it("passes on the service's own error message from a WireError body", async () => {
    openPage('/?token=t');
    fetchMock.mockResolvedValue(
      json(500, { error: { message: 'Could not read /proc/meminfo', code: 'EACCES' } }),
    );

    const error = await createClient()
      .hostInfo()
      .catch((e: unknown) => e);

    expect((error as Error).message).toBe('Could not read /proc/meminfo');
    expect((error as NestboxClientError).code).toBe('EACCES');
  });

  it('describes a failure without a WireError body by its HTTP status', async () => {
    openPage('/?token=t');
    fetchMock.mockResolvedValue(
      new Response('<h1>Bad gateway</h1>', { status: 502, statusText: 'Bad Gateway' }),
    );

    await expect(createClient().hostInfo()).rejects.toThrow(
      'Nestbox could not answer "host.info" (HTTP 502 Bad Gateway).',
    );
  });

  it('says so when nestbox serve cannot be reached', async () => {
    openPage('/?token=t');
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'));

    await expect(createClient().hostInfo()).rejects.toThrow(
      /Can't reach Nestbox — check that `nestbox serve` is still running/,
    );
  });

  it('rejects an answer that is not JSON', async () => {
    openPage('/?token=t');
    fetchMock.mockResolvedValue(new Response('not json', { status: 200 }));

    await expect(createClient().hostInfo()).rejects.toThrow(
      'Nestbox sent an unreadable answer to "host.info".',
    );
  });
});

/** A WebSocket the test drives: records the URL and what the client sends. */
class FakeWebSocket {
  static last: FakeWebSocket | undefined;
  binaryType: BinaryType = 'blob';
  readyState = 0;
  sent: unknown[] = [];
  closedWith: number | undefined;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;

  constructor(readonly url: string) {
    FakeWebSocket.last = this;
  }

  send(data: unknown) {
    this.sent.push(data);
  }

  close(code?: number) {
    this.closedWith = code;
  }

  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  receive(data: unknown) {
    this.onmessage?.({ data } as MessageEvent);
  }

  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006 } as CloseEvent);
  }
}

describe('http transport subscriptions (WebSockets)', () => {
  const transport = (token: string | null = 's3cret') =>
    createNestboxClient(
      createHttpTransport({
        token,
        WebSocket: FakeWebSocket as unknown as WebSocketConstructor,
        location: { href: 'http://localhost:8080/#/library' },
      }),
    );

  it('opens /api/events with the token in the URL and passes each list on', () => {
    const lists: unknown[] = [];
    const stop = transport().onVmsChanged((list) => lists.push(list));
    const socket = FakeWebSocket.last;

    expect(socket?.url).toBe('ws://localhost:8080/api/events?token=s3cret');
    socket?.receive(JSON.stringify({ type: 'event', data: { root: '/vms', vms: [], broken: [] } }));
    expect(lists).toEqual([{ root: '/vms', vms: [], broken: [] }]);
    stop();
    expect(socket?.closedWith).toBe(1000);
  });

  it('carries console output and input as binary, queueing input until the socket opens', async () => {
    const output: Uint8Array[] = [];
    const console_ = transport().openConsole(
      { id: 'a1b2', history: true },
      { data: (bytes) => output.push(bytes) },
    );
    const socket = FakeWebSocket.last;
    expect(socket?.url).toBe('ws://localhost:8080/api/vms/a1b2/console?history=1&token=s3cret');
    expect(socket?.binaryType).toBe('arraybuffer');

    await console_.write('uname\n');
    expect(socket?.sent).toEqual([]);
    socket?.open();
    expect(socket?.sent).toEqual([new TextEncoder().encode('uname\n')]);
    socket?.receive(Uint8Array.of(36, 32).buffer);
    expect(output).toEqual([Uint8Array.of(36, 32)]);
  });

  it('reports how a stream ended, or that the connection was lost', () => {
    const ends: SubscriptionEnd[] = [];
    const messages: ArrayBuffer[] = [];
    transport().openDisplay(
      { id: 'a1b2' },
      { message: (data) => messages.push(data), end: (end) => ends.push(end) },
    );
    const display = FakeWebSocket.last;
    expect(display?.url).toBe('ws://localhost:8080/api/vms/a1b2/display?token=s3cret');
    display?.open();
    display?.receive(new ArrayBuffer(32));
    const end: SubscriptionEnd = { reason: 'vm-stopped' };
    display?.receive(JSON.stringify({ type: 'end', end }));
    display?.drop();

    transport().onVmsChanged(
      () => {},
      (lost) => ends.push(lost),
    );
    FakeWebSocket.last?.drop();

    expect(messages).toHaveLength(1);
    expect(ends[0]).toEqual(end);
    expect(ends[1]?.error?.code).toBe('unreachable');
    expect(ends[1]?.error?.message).toMatch(/nestbox serve/);
  });

  it("opens /api/vms/<id>/progress for a VM's progress, as JSON events", () => {
    const seen: unknown[] = [];
    const stop = transport().onVmProgress({ id: 'a1b2' }, (progress) => seen.push(progress));
    const socket = FakeWebSocket.last;

    expect(socket?.url).toBe('ws://localhost:8080/api/vms/a1b2/progress?token=s3cret');
    socket?.open();
    const progress = { operation: 'suspend', done: 10, total: 20 };
    socket?.receive(JSON.stringify({ type: 'event', data: progress }));
    expect(seen).toEqual([progress]);
    stop();
    expect(socket?.closedWith).toBe(1000);
  });

  it('posts the snapshot channels like every other', async () => {
    const fetchMock = vi.fn<typeof fetch>();
    const tree = { nodes: [], roots: [], currentId: null, retainedLayers: 0, diskProblem: null };
    fetchMock.mockResolvedValue(json(200, { ...tree, suspended: false }));
    const client = createNestboxClient(createHttpTransport({ token: 't', fetch: fetchMock }));

    await expect(client.listSnapshots({ id: 'a1b2' })).resolves.toMatchObject(tree);
    const [url, init] = fetchMock.mock.calls[0] ?? [];
    expect(url).toBe('/api/snapshots.list');
    expect(JSON.parse(String(init?.body))).toEqual({ id: 'a1b2' });
  });

  it('keeps the field issues of a refused request', async () => {
    const fetchMock = vi.fn<typeof fetch>();
    const issues = [{ path: 'kernel', message: '/nope does not exist' }];
    fetchMock.mockResolvedValue(
      json(400, { error: { message: 'not valid', code: 'bad-request', issues } }),
    );
    const client = createNestboxClient(createHttpTransport({ token: 't', fetch: fetchMock }));

    const error = await client.createVm({ name: 'x', kernel: '/nope' }).catch((e: unknown) => e);

    expect((error as NestboxClientError).issues).toEqual(issues);
    expect((error as NestboxClientError).code).toBe('bad-request');
  });
});
