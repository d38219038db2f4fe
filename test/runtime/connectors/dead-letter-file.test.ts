// The dead-letter file: every letter is a JSON line; warnings stop after maxWarnings with one notice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileDeadLetterSink } from '../../../runtime/connectors/dead-letter-file.ts';
import type { DeadLetter, Logger } from '../../../runtime/types.ts';

function letter(i: number): DeadLetter {
  return {
    worker: 'w1',
    step: 'parse',
    messageId: `0:${i}`,
    error: 'Error: bad',
    payloadExcerpt: `x${i}`,
    timeMs: i,
  };
}

async function run(letters: number, maxWarnings: number): Promise<{ warnings: string[]; lines: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-dl-'));
  try {
    const warnings: string[] = [];
    const log: Logger = {
      info: () => undefined,
      warn: (m) => warnings.push(m),
      error: (m) => warnings.push(m),
    };
    const sink = new FileDeadLetterSink(path.join(dir, 'sub', 'dl.jsonl'), log, maxWarnings);
    for (let i = 0; i < letters; i++) sink.write(letter(i));
    expect(sink.count).toBe(letters);
    await sink.close();
    const text = letters > 0 ? fs.readFileSync(path.join(dir, 'sub', 'dl.jsonl'), 'utf8') : '';
    return { warnings, lines: text.split('\n').filter(Boolean) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('FileDeadLetterSink', () => {
  it('exactly maxWarnings letters: one warning each, no suppression notice', async () => {
    const r = await run(3, 3);
    expect(r.warnings).toHaveLength(3);
    expect(r.warnings.join('\n')).not.toMatch(/suppressed/);
    expect(r.lines.map((l) => (JSON.parse(l) as DeadLetter).messageId)).toEqual(['0:0', '0:1', '0:2']);
  });

  it('more letters: one notice naming the first unannounced message, a total at close, every letter in the file', async () => {
    const r = await run(7, 3);
    expect(r.warnings).toHaveLength(5);
    expect(r.warnings[3]).toMatch(/from message 0:3 of step "parse" on\): warnings are suppressed/);
    expect(r.warnings[4]).toMatch(/^7 dead letters in total, in .*dl\.jsonl$/);
    expect(r.lines).toHaveLength(7);
  });
});
