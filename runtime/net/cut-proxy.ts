// A TCP proxy that cuts its connections at seeded random moments: for tests and benchmarks of
// the data channels' reconnect (a worker's `--data` listens on one address and `--advertise`s
// the proxy's, so its peers dial through the proxy). A cut resets both sockets of every
// connection through the proxy at once (TCP RST, as when a link or a middlebox drops), losing
// whatever was in flight; new connections are accepted again at once. A freeze (`freezeNow`)
// is the silent kind of partition: the proxy stops forwarding on its connections but keeps
// them open, no FIN, no RST, as when a link goes dark; only an idle timeout notices it.

import net from 'node:net';
import type { Random } from '../types.ts';
import { formatAddress, listen, type HostPort } from './tcp-channel.ts';

export interface CutProxyOptions {
  /** Where the proxy listens (port 0: any free port). */
  readonly listen: HostPort;
  /** Where it forwards to. */
  readonly target: HostPort;
  /** Chooses the moments of the cuts. */
  readonly random: Random;
  /**
   * Mean time between cuts, in ms (each interval uniform in [mean/2, 3 mean/2]); absent: the
   * proxy only cuts on `cutNow()`.
   */
  readonly meanIntervalMs?: number;
  /** Cut at most this many times (default unbounded). */
  readonly maxCuts?: number;
}

export interface CutProxy {
  readonly address: HostPort;
  /** Cuts so far that found at least one connection to reset. */
  readonly cuts: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Resets every connection through the proxy now; returns how many it reset. */
  cutNow(): number;
  /**
   * Stops forwarding, both ways, on every connection through the proxy now, keeping them open
   * (a silent partition); connections made afterwards are forwarded. Returns how many it froze.
   */
  freezeNow(): number;
  /** Stops cutting (connections stay up). */
  stopCutting(): void;
  /** Stops cutting, resets every connection and closes the listener. */
  close(): Promise<void>;
}

export async function startCutProxy(o: CutProxyOptions): Promise<CutProxy> {
  const pairs = new Set<readonly [net.Socket, net.Socket]>();
  const frozen = new Set<readonly [net.Socket, net.Socket]>();
  let cuts = 0;
  let connections = 0;
  let timer: NodeJS.Timeout | null = null;
  let cutting = o.meanIntervalMs !== undefined;
  const server = net.createServer((down) => {
    connections++;
    const up = net.connect(o.target.port, o.target.host);
    const pair = [down, up] as const;
    pairs.add(pair);
    down.setNoDelay(true);
    up.setNoDelay(true);
    down.pipe(up);
    up.pipe(down);
    const drop = (): void => {
      frozen.delete(pair);
      if (!pairs.delete(pair)) return;
      down.destroy();
      up.destroy();
    };
    down.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  const address = await listen(server, o.listen, `cut proxy to ${formatAddress(o.target)}`);
  const cutNow = (): number => {
    let n = 0;
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      for (const s of pair) s.resetAndDestroy();
      n++;
    }
    if (n > 0) cuts++;
    return n;
  };
  const freezeNow = (): number => {
    let n = 0;
    for (const pair of pairs) {
      if (frozen.has(pair)) continue;
      const [down, up] = pair;
      down.unpipe(up);
      up.unpipe(down);
      down.pause();
      up.pause();
      frozen.add(pair);
      n++;
    }
    return n;
  };
  const schedule = (): void => {
    if (!cutting || o.meanIntervalMs === undefined) return;
    if (o.maxCuts !== undefined && cuts >= o.maxCuts) return;
    const mean = o.meanIntervalMs;
    const delay = mean / 2 + o.random.next() * mean;
    timer = setTimeout(() => {
      timer = null;
      cutNow();
      schedule();
    }, delay);
    timer.unref();
  };
  schedule();
  const stopCutting = (): void => {
    cutting = false;
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return {
    address,
    get cuts() {
      return cuts;
    },
    get connections() {
      return connections;
    },
    cutNow,
    freezeNow,
    stopCutting,
    close: () =>
      new Promise<void>((resolve) => {
        stopCutting();
        cutNow();
        server.close(() => resolve());
      }),
  };
}
