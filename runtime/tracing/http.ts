// The trace receiver over HTTP (loopback or a network), and the worker-side sink that posts
// reports to it.
//
//   POST /reports         JSON lines, one TraceReport each (at most MAX_BODY_BYTES a request)
//   GET  /messages/ID     the traversals and violations of the message ID (any id of it)
//   GET  /stats           counts, evictions, traversals per path
//   GET  /violations      every violation of the messages held
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { printFlow } from '../flow/print.ts';
import type { MessageCheck, ReceiverStats, TraceReceiver, Violation } from './receiver.ts';
import type { TraceReport, TraceSink } from './report.ts';
import { traceReportSchema } from './report.ts';

export const MAX_BODY_BYTES = 8 << 20;

export interface ReceiverServer {
  readonly host: string;
  readonly port: number;
  /** Reports refused as malformed (each refusal also answers 400 with the first error). */
  readonly invalidReports: () => number;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Parses JSON lines of reports; the valid ones, and the first problem (line number). */
export function parseReportLines(text: string): {
  reports: TraceReport[];
  invalid: number;
  firstError?: string;
} {
  const reports: TraceReport[] = [];
  let invalid = 0;
  let firstError: string | undefined;
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      invalid++;
      firstError ??= `line ${i + 1}: not JSON`;
      return;
    }
    const r = traceReportSchema.safeParse(json);
    if (r.success) reports.push(r.data);
    else {
      invalid++;
      const issue = r.error.issues[0]!;
      firstError ??= `line ${i + 1}: field "${issue.path.join('.')}" ${issue.message}`;
    }
  });
  return { reports, invalid, ...(firstError !== undefined ? { firstError } : {}) };
}

export function startReceiverServer(
  receiver: TraceReceiver,
  host: string,
  port: number,
): Promise<ReceiverServer> {
  let invalid = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (req.method === 'POST' && url.pathname === '/reports') {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooBig = false;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          tooBig = true;
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (tooBig) return;
        const parsed = parseReportLines(Buffer.concat(chunks).toString('utf8'));
        for (const r of parsed.reports) receiver.report(r);
        invalid += parsed.invalid;
        if (parsed.invalid > 0) {
          send(res, 400, {
            accepted: parsed.reports.length,
            invalid: parsed.invalid,
            error: parsed.firstError,
          });
        } else send(res, 200, { accepted: parsed.reports.length });
      });
      req.on('close', () => {
        if (tooBig && !res.headersSent) send(res, 413, { error: `body above ${MAX_BODY_BYTES} bytes` });
      });
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/messages/')) {
      const id = decodeURIComponent(url.pathname.slice('/messages/'.length));
      const c = receiver.checkMessage(id);
      if (!c)
        send(res, 404, { error: `no reports for message ${id} (not sampled, not yet reported, or evicted)` });
      else send(res, 200, c);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/stats') {
      const flow = receiver.flow;
      send(res, 200, { ...receiver.stats(), invalidReports: invalid, flow: flow ? printFlow(flow) : null });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/violations') {
      send(res, 200, receiver.checkAll());
      return;
    }
    send(res, 404, { error: `no such endpoint: ${req.method} ${url.pathname}` });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({
        host: a.address,
        port: a.port,
        invalidReports: () => invalid,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

export class ReceiverClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReceiverClientError';
  }
}

async function getJson<T>(base: string, path: string): Promise<T | null> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`);
  } catch (err) {
    throw new ReceiverClientError(
      `no trace receiver at ${base}: ${(err as Error).message}; start one with buffy trace-receiver --listen HOST:PORT`,
    );
  }
  if (res.status === 404) return null;
  if (!res.ok)
    throw new ReceiverClientError(`trace receiver at ${base} answered ${res.status} to GET ${path}`);
  return (await res.json()) as T;
}

/** Queries a receiver started with `buffy trace-receiver` (HOST:PORT). */
export function receiverClient(address: string) {
  const base = `http://${address}`;
  return {
    message: (id: string) => getJson<MessageCheck>(base, `/messages/${encodeURIComponent(id)}`),
    stats: async () =>
      (await getJson<ReceiverStats & { invalidReports: number; flow: string | null }>(base, '/stats'))!,
    violations: async () => (await getJson<Violation[]>(base, '/violations'))!,
  };
}

/** A worker's sink: buffers reports and posts them in batches. Bounded: past `maxPending`
 * unsent reports, new ones are dropped and counted. */
export class HttpTraceSink implements TraceSink {
  private buffer: string[] = [];
  private inflight = new Set<Promise<void>>();
  dropped = 0;
  failedPosts = 0;
  lastError: string | undefined;
  private pending = 0;

  constructor(
    private readonly address: string,
    private readonly opts: { batchReports?: number; maxPending?: number } = {},
  ) {}

  report(r: TraceReport): void {
    if (this.pending >= (this.opts.maxPending ?? 100_000)) {
      this.dropped++;
      return;
    }
    this.pending++;
    this.buffer.push(JSON.stringify(r));
    if (this.buffer.length >= (this.opts.batchReports ?? 1000)) this.post();
  }

  private post(): void {
    if (this.buffer.length === 0) return;
    const lines = this.buffer;
    this.buffer = [];
    const p = fetch(`http://${this.address}/reports`, { method: 'POST', body: `${lines.join('\n')}\n` })
      .then(async (res) => {
        if (!res.ok) {
          this.failedPosts++;
          this.lastError = `receiver answered ${res.status}: ${await res.text()}`;
        }
      })
      .catch((err: unknown) => {
        this.failedPosts++;
        this.lastError = (err as Error).message;
      })
      .finally(() => {
        this.pending -= lines.length;
        this.inflight.delete(p);
      });
    this.inflight.add(p);
  }

  /** Posts what is buffered and waits for every post. */
  async flush(): Promise<void> {
    this.post();
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }
}
