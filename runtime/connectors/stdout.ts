// stdout: sink: one payload per line on standard output. A closed pipe (EPIPE, e.g. `| head`)
// ends the output quietly: later batches are dropped and counted, and a warning says so.
import type { ConnectorFactory, ConnectorUri, Logger, SinkBatch, SinkConnector } from '../types.ts';
import { writeLines } from './file.ts';

export class StdoutSink implements SinkConnector {
  private broken = false;
  dropped = 0;
  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (!this.broken) {
      this.broken = true;
      this.log.warn(
        `sink "${this.uri}": standard output closed (${err.code ?? err.message}); further output is dropped`,
      );
    }
  };

  constructor(
    readonly uri: string,
    private readonly log: Logger,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.out.on('error', this.onError);
  }

  write(batch: SinkBatch): Promise<void> | void {
    if (this.broken) {
      this.dropped += batch.payloads.length;
      return;
    }
    const wait = writeLines(this.out, batch.payloads);
    if (wait) {
      return wait.catch((err: Error) => {
        if (!this.broken) throw new Error(`sink "${this.uri}": ${err.message}`);
      });
    }
  }

  async flush(): Promise<void> {
    if (this.broken || this.out.writableLength === 0) return;
    await new Promise<void>((res) => this.out.write('', () => res()));
  }

  async close(): Promise<void> {
    await this.flush();
    this.out.off('error', this.onError);
  }
}

/** `stdout:` (or `stdout:-`) takes no argument. */
export function stdoutRestOk(uri: ConnectorUri): void {
  if (uri.rest !== '' && uri.rest !== '-')
    throw new Error(`sink "${uri.raw}": stdout: takes no argument; write "stdout:"`);
}

export const stdoutConnector: ConnectorFactory = {
  createSink: (uri, ctx) => {
    stdoutRestOk(uri);
    return new StdoutSink(uri.raw, ctx.log);
  },
};
