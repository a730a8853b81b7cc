import { describe, expect, it, vi } from 'vitest';
import type { Job, PreloadApi, PreloadSubscriber, SubscriptionEnd } from './contract.ts';
import { createHttpTransport, type WebSocketConstructor } from './http-transport.ts';
import { createNestboxClient } from './nestbox-client.ts';
import { createPreloadTransport } from './preload-transport.ts';

const JOB_ID = '5d8a3c1e-2f4b-4c6d-8e9f-0a1b2c3d4e5f';

const job: Job = {
  id: JOB_ID,
  kind: 'clone',
  vmId: 'vm-1',
  label: 'Clone “A” as “B”',
  state: 'running',
  done: 1,
  total: 4,
  startedAt: '2026-01-01T00:00:00.000Z',
  cancellable: true,
};

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

function fakePreloadApi(overrides: Partial<PreloadApi> = {}): PreloadApi {
  const unexpected = () => {
    throw new Error('not expected in this test');
  };
  return new Proxy(overrides, {
    get: (target, name) => (target as Record<PropertyKey, unknown>)[name] ?? unexpected,
  }) as PreloadApi;
}

class FakeWebSocket {
  static last: FakeWebSocket | undefined;
  binaryType: BinaryType = 'blob';
  readyState = 0;
  closedWith: number | undefined;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;

  constructor(readonly url: string) {
    FakeWebSocket.last = this;
  }

  send() {}

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
}

describe('jobs channels', () => {
  it('posts jobs.list and jobs.cancel over HTTP', async () => {
    const fetchMock = vi.fn<typeof fetch>();
    fetchMock.mockResolvedValueOnce(json(200, [job]));
    fetchMock.mockResolvedValueOnce(json(200, job));
    const client = createNestboxClient(createHttpTransport({ token: 't', fetch: fetchMock }));

    await expect(client.listJobs()).resolves.toEqual([job]);
    await expect(client.cancelJob({ id: JOB_ID })).resolves.toEqual(job);
    expect(fetchMock.mock.calls.map(([url]) => url)).toEqual([
      '/api/jobs.list',
      '/api/jobs.cancel',
    ]);
    expect(JSON.parse(String(fetchMock.mock.calls[1]?.[1]?.body))).toEqual({ id: JOB_ID });
  });

  it('keeps the code of a refused jobs.cancel', async () => {
    const fetchMock = vi.fn<typeof fetch>();
    fetchMock.mockResolvedValue(
      json(409, { error: { message: 'Revert cannot be cancelled', code: 'invalid-state' } }),
    );
    const client = createNestboxClient(createHttpTransport({ token: 't', fetch: fetchMock }));

    await expect(client.cancelJob({ id: JOB_ID })).rejects.toMatchObject({
      code: 'invalid-state',
      message: 'Revert cannot be cancelled',
    });
  });

  it('opens /api/jobs for jobs.changed, as JSON events', () => {
    const client = createNestboxClient(
      createHttpTransport({
        token: 's3cret',
        WebSocket: FakeWebSocket as unknown as WebSocketConstructor,
        location: { href: 'http://localhost:8080/#/library' },
      }),
    );
    const seen: Job[][] = [];
    const stop = client.onJobsChanged((jobs) => seen.push(jobs));
    const socket = FakeWebSocket.last;

    expect(socket?.url).toBe('ws://localhost:8080/api/jobs?token=s3cret');
    socket?.open();
    socket?.receive(JSON.stringify({ type: 'event', data: [job] }));
    expect(seen).toEqual([[job]]);
    stop();
    expect(socket?.closedWith).toBe(1000);
  });

  it('uses the preload functions in Electron', async () => {
    let subscriber: PreloadSubscriber<'jobs.changed'> | undefined;
    const unsubscribe = vi.fn();
    const listJobs = vi.fn(async () => [job]);
    const cancelJob = vi.fn(async () => job);
    const client = createNestboxClient(
      createPreloadTransport(
        fakePreloadApi({
          listJobs,
          cancelJob,
          onJobsChanged: (given) => {
            subscriber = given;
            return unsubscribe;
          },
        }),
      ),
    );

    await expect(client.listJobs()).resolves.toEqual([job]);
    await expect(client.cancelJob({ id: JOB_ID })).resolves.toEqual(job);
    expect(cancelJob).toHaveBeenCalledWith({ id: JOB_ID });

    const seen: Job[][] = [];
    const ends: SubscriptionEnd[] = [];
    const stop = client.onJobsChanged(
      (jobs) => seen.push(jobs),
      (end) => ends.push(end),
    );
    subscriber?.event?.([job]);
    stop();
    subscriber?.event?.([]);
    expect(seen).toEqual([[job]]);
    expect(ends).toEqual([]);
    expect(unsubscribe).toHaveBeenCalledTimes(1);
  });
});
