import { createServer } from 'node:net';
import { startTestServer } from './support/test-server.js';

const TOKEN = 'metrics-token-0123456789';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('GET /metrics protection', () => {
  it('is open on the API port by default (the documented default)', async () => {
    const server = await startTestServer();
    try {
      const response = await server.fetch('/metrics', { key: null });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('http_requests_total');
    } finally {
      await server.close();
    }
  });

  it('with METRICS_TOKEN, needs that token as a Bearer header', async () => {
    const server = await startTestServer({ env: { METRICS_TOKEN: TOKEN } });
    try {
      for (const key of [null, 'wrong-token-0123456789', `${TOKEN}x`]) {
        const response = await server.fetch('/metrics', { key });
        expect(response.status).toBe(401);
        expect(await response.json()).toEqual({ code: 'UNAUTHORIZED', message: expect.stringContaining('METRICS_TOKEN') });
      }
      const response = await server.fetch('/metrics', { key: TOKEN });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      expect(await response.text()).toContain('http_client_aborts_total');
    } finally {
      await server.close();
    }
  });

  it('with METRICS_PORT, serves metrics only on that loopback listener, and the token still applies', async () => {
    const { metricsPort, server } = await startWithMetricsPort();
    try {
      const onApiPort = await server.fetch('/metrics', { key: TOKEN });
      expect(onApiPort.status).toBe(404);
      expect(await onApiPort.json()).toMatchObject({ code: 'NOT_FOUND' });
      const url = `http://127.0.0.1:${metricsPort}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      const scraped = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('http_requests_total');
      const other = await fetch(`http://127.0.0.1:${metricsPort}/customers`);
      expect(other.status).toBe(404);
      expect(await other.json()).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await server.close();
    }
    // Closing the app closes the metrics listener too.
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });
});

/** A free port can be taken by another process before we bind it (tests run side by side): try a few. */
async function startWithMetricsPort(
  attempts = 5,
): Promise<{ metricsPort: number; server: Awaited<ReturnType<typeof startTestServer>> }> {
  for (let attempt = 1; ; attempt += 1) {
    const metricsPort = await freePort();
    try {
      return { metricsPort, server: await startTestServer({ env: { METRICS_PORT: String(metricsPort), METRICS_TOKEN: TOKEN } }) };
    } catch (error) {
      if (attempt >= attempts || (error as { code?: string }).code !== 'EADDRINUSE') throw error;
    }
  }
}
