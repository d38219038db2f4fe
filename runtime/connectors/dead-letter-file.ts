// Dead letters to a file: one JSON line per letter (worker, step, message id, error, payload
// excerpt, time), announced by a one-line warning; after `maxWarnings` warnings the rest are only
// counted (the file has them all).
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { warningLine } from '../engine/dead-letters.ts';
import type { DeadLetter, DeadLetterSink, Logger } from '../types.ts';

/** The default dead-letter file of `buffy run` (embedded; out/ is git-ignored). A worker of a
 * cluster writes its own, with its name before the extension (out/dead-letters.w1.jsonl). */
export const DEFAULT_DEAD_LETTERS = 'out/dead-letters.jsonl';

/** Appends dead letters to a JSON-lines file, opened on the first letter (synchronously, so a
 * crash right after loses nothing that was reported). */
export class FileDeadLetterSink implements DeadLetterSink {
  private fd: number | null = null;
  private written = 0;
  readonly path: string;

  constructor(
    path: string,
    private readonly log: Logger,
    private readonly maxWarnings = 10,
  ) {
    this.path = resolve(path);
  }

  get count(): number {
    return this.written;
  }

  write(letter: DeadLetter): void {
    if (this.fd === null) {
      try {
        mkdirSync(dirname(this.path), { recursive: true });
        this.fd = openSync(this.path, 'a');
      } catch (err) {
        throw new Error(`cannot open the dead-letter file ${this.path}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    writeSync(this.fd, `${JSON.stringify(letter)}\n`);
    this.written++;
    if (this.written <= this.maxWarnings)
      this.log.warn(warningLine(letter, `the dead-letter file ${this.path}`));
    else if (this.written === this.maxWarnings + 1) {
      this.log.warn(
        `more dead letters (from message ${letter.messageId} of step "${letter.step}" on): warnings are suppressed, all of them go to ${this.path}`,
      );
    }
  }

  async close(): Promise<void> {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
      if (this.written > this.maxWarnings)
        this.log.warn(`${this.written} dead letters in total, in ${this.path}`); // > maxWarnings
    }
  }
}
