// loadApp: every way an app module can fail names the file and what went wrong.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppLoadError, loadApp } from '../../../runtime/api/load.ts';
import { AppOptionsError } from '../../../runtime/api/options.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const WORD_COUNT = fileURLToPath(new URL('../../../examples/word-count.ts', import.meta.url));

describe('loadApp', () => {
  it('a factory that throws is an AppLoadError naming the file and the error', async () => {
    const err = await loadApp(fixture('factory-throws.ts'), { params: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppLoadError);
    expect((err as Error).message).toBe(
      `${fixture('factory-throws.ts')}: the application factory (its default export) threw: RangeError: the factory could not read its settings`,
    );
  });

  it('a module that throws while loading is an AppLoadError naming the file', async () => {
    await expect(loadApp(fixture('module-throws.ts'), { params: {} })).rejects.toThrow(
      /module-throws\.ts: cannot load the module: this module fails at load/,
    );
  });

  it('parameter errors from the factory pass through as they are', async () => {
    await expect(loadApp(WORD_COUNT, { params: { tpo: '3' } })).rejects.toThrow(AppOptionsError);
    await expect(loadApp(WORD_COUNT, { params: { tpo: '3' } })).rejects.toThrow(
      '--param tpo: unknown parameter; this application takes top, partitions',
    );
  });

  it('a missing file says so', async () => {
    await expect(loadApp(fixture('nope.ts'), { params: {} })).rejects.toThrow(
      /nope\.ts: no such application file/,
    );
  });
});
