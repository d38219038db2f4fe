// The engine and the pure channel core reach for no clock, timer, randomness, network or disk of
// their own: eslint.config.js forbids them there. This test checks that the rule bites (on code
// placed, for linting only, at paths inside those folders) and that the real files pass it.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

const forbidden: ReadonlyArray<readonly [string, string]> = [
  ['export const t = Date.now();', 'no-restricted-properties'],
  ['export const t = performance.now();', 'no-restricted-globals'],
  ['export const r = Math.random();', 'no-restricted-properties'],
  ['export const h = process.hrtime.bigint();', 'no-restricted-properties'],
  ['export const d = new Date();', 'no-restricted-syntax'],
  ['setTimeout(() => undefined, 1);', 'no-restricted-globals'],
  ['export const i = setInterval(() => undefined, 1);', 'no-restricted-globals'],
  ["import { readFileSync } from 'node:fs';\nexport const f = readFileSync;", 'no-restricted-imports'],
  ["import * as net from 'net';\nexport const n = net;", 'no-restricted-imports'],
  [
    "import { setTimeout as sleep } from 'node:timers/promises';\nexport const s = sleep;",
    'no-restricted-imports',
  ],
];

describe('determinism seams (lint)', () => {
  for (const place of ['runtime/engine/probe.ts', 'runtime/net/channel.ts']) {
    it(`forbids clocks, timers, randomness, fs and net in ${place}`, async () => {
      for (const [code, rule] of forbidden) {
        expect(await ruleIds(code, place), code).toContain(rule);
      }
    }, 30_000);
  }

  it('allows them outside the seam-only folders (the shells)', async () => {
    expect(await ruleIds('export const t = Date.now();', 'runtime/system.ts')).toEqual([]);
  }, 30_000);

  it('the engine and channel core files pass', async () => {
    const results = await eslint.lintFiles([
      'runtime/engine/**/*.ts',
      'runtime/net/channel.ts',
      'runtime/net/framing.ts',
    ]);
    const problems = results.flatMap((r) =>
      r.messages.map((m) => `${r.filePath}:${m.line}:${m.column} ${m.ruleId}: ${m.message}`),
    );
    expect(problems).toEqual([]);
    expect(results.length).toBeGreaterThan(5);
  }, 60_000);
});
