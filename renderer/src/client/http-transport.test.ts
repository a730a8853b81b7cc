import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACCESS_TOKEN_STORAGE_KEY } from './access-token.ts';
import { NestboxClientError } from './client-error.ts';
import { createClient } from './create-client.ts';
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
