// The HTTP endpoint of a worker's metrics: GET /metrics (Prometheus text format) and
// GET /metrics.json (a WorkerSnapshot, with the latency histograms encoded so that they can be
// merged across workers). Loopback by default (`--metrics 127.0.0.1:PORT`).
import http from 'node:http';
import { formatAddress, listen } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import type { Clock } from '../types.ts';
import type { WorkerMetrics } from './worker-metrics.ts';

export interface MetricsServer {
  readonly address: HostPort;
  /** http://HOST:PORT/metrics */
  readonly url: string;
  close(): Promise<void>;
}

export async function serveMetrics(
  metrics: WorkerMetrics,
  address: HostPort,
  clock: Clock,
  what = 'metrics',
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET\n');
      return;
    }
    if (path === '/metrics') {
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: unknown) =>
          res
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(`collecting metrics failed: ${String(err)}\n`),
      );
      return;
    }
    if (path === '/metrics.json') {
      const body = JSON.stringify(metrics.snapshot(clock.nowMs()));
      res
        .writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' })
        .end(body);
      return;
    }
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end(`no such path ${path}; try /metrics (Prometheus text) or /metrics.json\n`);
  });
  server.keepAliveTimeout = 5000;
  const bound = await listen(server, address, what);
  return {
    address: bound,
    url: `http://${formatAddress(bound)}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
