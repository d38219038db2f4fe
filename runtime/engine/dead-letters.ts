// Dead letters: messages whose decoder or user function threw (worker, step, message id, error,
// payload excerpt, time), each announced by a one-line warning. The engine only sees the
// DeadLetterSink seam; this file keeps them in memory, runtime/connectors/dead-letter-file.ts
// appends them to a JSON-lines file.
import type { DeadLetter, DeadLetterSink, Logger } from '../types.ts';

/** The warning that announces a dead letter; `where` says where it went. */
export function warningLine(l: DeadLetter, where: string): string {
  return `step "${l.step}" on worker "${l.worker}" failed on message ${l.messageId} (${l.error}); the message went to ${where}, processing continues`;
}

/** Keeps dead letters in memory (tests, embedded use). */
export class MemoryDeadLetterSink implements DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  constructor(private readonly log?: Logger) {}
  get count(): number {
    return this.letters.length;
  }
  write(letter: DeadLetter): void {
    this.letters.push(letter);
    this.log?.warn(warningLine(letter, 'the dead letters'));
  }
  async close(): Promise<void> {}
}
