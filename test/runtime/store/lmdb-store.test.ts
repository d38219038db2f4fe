// The LMDB store beyond the shared contract: what survives a reopen, batches that stay whole
// when the writing process is killed with SIGKILL, refusal of a foreign, torn or corrupt
// store, and clear errors for a bad directory.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { openLmdbStore, StoreError, type Durability } from '../../../runtime/store/lmdb-store.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = path.resolve(here, '../../../node_modules/tsx/dist/esm/index.mjs');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) {
    try {
      chmodSync(d, 0o700);
    } catch {
      /* already gone */
    }
    rmSync(d, { recursive: true, force: true });
  }
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'buffy-lmdb-'));
  dirs.push(d);
  return d;
}
const id = { app: 'word-count', version: '1.2.0', partitions: 4 };
const u32 = (v: Uint8Array): number => new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(0);

describe('LmdbStore', () => {
  it('what was written is there after close and reopen, deletes included', async () => {
    const dir = tempDir();
    const s1 = await openLmdbStore({ dir, ...id });
    await s1.writeBatch([
      { key: 'state/p0', value: Uint8Array.of(1, 2, 3) },
      { key: 'state/p1', value: Uint8Array.of(4) },
      { key: 'mark/in0', value: Uint8Array.of(9) },
    ]);
    await s1.writeBatch([{ key: 'state/p1', value: null }]);
    await s1.close();
    const s2 = await openLmdbStore({ dir, ...id });
    expect([...(await s2.get('state/p0'))!]).toEqual([1, 2, 3]);
    expect(await s2.get('state/p1')).toBeUndefined();
    const keys: string[] = [];
    for await (const [k] of s2.scan('')) keys.push(k);
    expect(keys).toEqual(['mark/in0', 'state/p0']);
    await s2.close();
  });

  for (const durability of ['batch', 'sync'] as Durability[]) {
    it(`${durability}: a writer killed with SIGKILL mid-loop leaves only whole batches, and every batch it saw committed`, async () => {
      const dir = tempDir();
      const width = 50;
      let reported = 0;
      for (let round = 0; round < 3; round++) {
        const child = spawn(
          process.execPath,
          ['--import', tsx, path.join(here, 'crash-writer.ts'), dir, durability, String(width)],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let err = '';
        let out = '';
        let seen = 0; // the last batch the writer reported committed
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            const lines = out.split('\n');
            out = lines.pop()!;
            for (const l of lines) seen = Math.max(seen, Number(l));
            if (seen > 0) resolve();
          });
          child.on('exit', (code) => reject(new Error(`the writer exited (${code}) before writing: ${err}`)));
        });
        await new Promise((r) => setTimeout(r, 150 + 100 * round));
        const exited = new Promise((r) => child.on('exit', r));
        child.kill('SIGKILL');
        await exited;
        const acknowledged = seen;
        const s = await openLmdbStore({ dir, app: 'crash', version: '1', partitions: 1 });
        const n = u32((await s.get('n'))!);
        for (let i = 0; i < width; i++) expect(u32((await s.get(`w/${i}`))!)).toBe(n);
        const ds: string[] = [];
        for await (const [k, v] of s.scan('d/')) {
          ds.push(k);
          expect(u32(v)).toBe(n);
        }
        expect(ds).toEqual([`d/${n}`]);
        // nothing the writer saw committed is lost; it resumes from what it finds
        expect(n).toBeGreaterThanOrEqual(acknowledged);
        expect(n).toBeGreaterThan(reported);
        reported = n;
        await s.close();
      }
    }, 60_000);
  }

  it.skipIf(process.platform !== 'linux')(
    'a full disk (a file size limit): a clear error naming the store, the batch not applied, nothing committed lost',
    async () => {
      const dir = tempDir();
      // bash ignores SIGXFSZ, so that writes past `ulimit -f` (KiB) fail with EFBIG, as on a full disk
      const child = spawn(
        'bash',
        [
          '-c',
          `trap '' XFSZ; ulimit -f 512; exec "$0" --import "$1" "$2" "$3"`,
          process.execPath,
          tsx,
          path.join(here, 'full-writer.ts'),
          dir,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise((r) => child.on('exit', r));
      expect(code, out).toBe(1);
      const committedLine = /^committed (\d+)$/m.exec(out);
      const errorLine = /^error (.*)$/m.exec(out);
      if (!committedLine || !errorLine)
        throw new Error(`the writer's output lacks its committed and error lines: ${out}`);
      const committed = Number(committedLine[1]);
      const error = errorLine[1]!;
      expect(committed).toBeGreaterThan(10);
      expect(error).toContain(
        `store ${path.join(dir, 'store.mdb')}: a batch of 2 writes failed and none of it was applied`,
      );
      expect(error).toContain('the disk or the file size limit is full');
      const s = await openLmdbStore({ dir, app: 'full', version: '1', partitions: 1 });
      expect(u32((await s.get('n'))!)).toBe(committed);
      let count = 0;
      for await (const [, v] of s.scan('k/')) {
        count++;
        expect(v.length).toBe(2000);
        expect(v[0]).toBe(count % 256);
      }
      expect(count).toBe(committed);
      // with room again, the store goes on
      await s.writeBatch([{ key: 'after', value: Uint8Array.of(1) }]);
      await s.close();
    },
    60_000,
  );

  it('refuses a store of another application, version or partition count, naming the path and what differs', async () => {
    const dir = tempDir();
    await (await openLmdbStore({ dir, ...id })).close();
    const file = path.join(dir, 'store.mdb');
    const attempt = (o: Partial<typeof id>) => openLmdbStore({ dir, ...id, ...o, owner: 'worker 2' });
    await expect(attempt({ app: 'other' })).rejects.toThrow(StoreError);
    await expect(attempt({ app: 'other' })).rejects.toThrow(
      `worker 2: store ${file} belongs to another application`,
    );
    await expect(attempt({ app: 'other' })).rejects.toThrow('application "word-count", not "other"');
    await expect(attempt({ version: '2.0.0' })).rejects.toThrow('version "1.2.0", not "2.0.0"');
    await expect(attempt({ partitions: 8 })).rejects.toThrow('4 partitions, not 8');
    // and it is still usable by its own application afterwards
    const s = await openLmdbStore({ dir, ...id });
    await s.writeBatch([{ key: 'k', value: Uint8Array.of(1) }]);
    await s.close();
  });

  it('refuses a store holding data but no header (torn, or written by something else)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.mdb');
    const root = open({ path: file, noSubdir: true, maxDbs: 4 });
    const data = root.openDB({ name: 'data', encoding: 'binary' });
    await data.put('state/p0', Buffer.from([1]));
    await root.close();
    await expect(openLmdbStore({ dir, ...id })).rejects.toThrow(
      `store ${file} holds data (key "state/p0") but no header`,
    );
  });

  it('refuses a file that is not an LMDB store, naming it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.mdb');
    writeFileSync(file, Buffer.alloc(64 * 1024, 0x5a));
    await expect(openLmdbStore({ dir, ...id })).rejects.toThrow(`store ${file}`);
  });

  it('a missing directory, a file in its place, bad identity or durability: clear errors', async () => {
    const dir = tempDir();
    const missing = path.join(dir, 'nope');
    await expect(openLmdbStore({ dir: missing, ...id, owner: 'worker 1' })).rejects.toThrow(
      `worker 1: the store directory ${missing} does not exist; create it`,
    );
    const file = path.join(dir, 'plain');
    writeFileSync(file, 'x');
    await expect(openLmdbStore({ dir: file, ...id })).rejects.toThrow(
      `the store path ${file} is not a directory`,
    );
    await expect(openLmdbStore({ dir, ...id, partitions: 0 })).rejects.toThrow(
      'partition count must be a positive integer',
    );
    await expect(openLmdbStore({ dir, ...id, app: '' })).rejects.toThrow('application name is empty');
    await expect(openLmdbStore({ dir, ...id, durability: 'fast' as Durability })).rejects.toThrow(
      'durability must be one of sync, batch, none',
    );
  });

  it.skipIf(process.getuid?.() === 0)(
    'an unwritable directory: a clear error (skipped as root, who may write anywhere)',
    async () => {
      const dir = tempDir();
      const ro = path.join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      await expect(openLmdbStore({ dir: ro, ...id })).rejects.toThrow(
        `the store directory ${ro} is not readable and writable`,
      );
    },
  );
});
