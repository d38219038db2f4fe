// A durable Store (runtime/types.ts) on LMDB, one environment per worker. A shell-side module:
// it does disk I/O, so the engine never imports it; the worker's shell opens it and passes it
// in (EngineOptions.store).
//
// Layout: one LMDB environment file `store.mdb` (and its lock file) in the store directory,
// with two named databases: `data` (the Store's keys, ordered, values as raw bytes) and `meta`
// (the store header: format, application, version, partition count). Every `writeBatch` is one
// LMDB write transaction of its own, so a batch is visible entirely or not at all, also after a
// crash. See runtime/store/README.md for the durability levels.
import { accessSync, closeSync, constants as fsConstants, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Store, StoreOp } from '../types.ts';

/** What a crash may take away: see the table in runtime/store/README.md. */
export type Durability = 'sync' | 'batch' | 'none';
export const DURABILITY_LEVELS: readonly Durability[] = ['sync', 'batch', 'none'];

/** What a store belongs to; a store of another identity is refused at open. */
export interface StoreIdentity {
  readonly app: string;
  readonly version: string;
  readonly partitions: number;
}

export interface LmdbStoreOptions extends StoreIdentity {
  /** The store directory; it must exist and be writable. */
  readonly dir: string;
  /** Default `batch`. */
  readonly durability?: Durability;
  /** Who opens it, for error messages (e.g. `worker 2`). */
  readonly owner?: string;
}

/** The store cannot be opened or used: the message says which store, what is wrong, what to do. */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** 1: file sinks wrote through the outbox. 2: they write without one, their length committed
 * with the states (k/<sink> changed meaning), so a format-1 store is refused, not misread. */
const FORMAT = 2;
const FILE = 'store.mdb';
const HEADER_KEY = 'header';
/** LMDB's key size limit in lmdb-js builds (bytes of the encoded key). */
const MAX_KEY_BYTES = 1978;

interface Header {
  readonly format: number;
  readonly app: string;
  readonly version: string;
  readonly partitions: number;
}

function parseHeader(bytes: Uint8Array, where: string): Header {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new StoreError(`${where}: the store header is not valid JSON: the store is corrupt`);
  }
  const h = v as Partial<Header> | null;
  if (
    h === null ||
    typeof h !== 'object' ||
    typeof h.format !== 'number' ||
    typeof h.app !== 'string' ||
    typeof h.version !== 'string' ||
    typeof h.partitions !== 'number'
  )
    throw new StoreError(
      `${where}: the store header lacks format, app, version or partitions: the store is corrupt`,
    );
  return h as Header;
}

function checkDir(dir: string, who: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new StoreError(
      `${who}: the store directory ${dir} does not exist; create it (mkdir -p) or pass another one`,
    );
  }
  if (!st.isDirectory()) throw new StoreError(`${who}: the store path ${dir} is not a directory`);
  try {
    accessSync(dir, fsConstants.W_OK | fsConstants.R_OK);
  } catch {
    throw new StoreError(
      `${who}: the store directory ${dir} is not readable and writable by this process; fix its permissions or pass another one`,
    );
  }
}

/** LMDB's meta page magic (little-endian uint32 at byte 24 of each of the first two pages). */
const LMDB_MAGIC = 0xbeefc0de;
const MAGIC_OFFSET = 24;

/**
 * LMDB trusts its file: opening one whose meta pages are garbage can kill the process. So an
 * existing file is checked first: its first page must be an LMDB meta page, and so must the
 * second (at one of the page sizes LMDB uses). Data pages carry no checksums; damage there is
 * not detected before use (see runtime/store/README.md).
 */
function checkLmdbFile(file: string, where: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return; // no file yet: LMDB creates it
  }
  if (size === 0) return; // created and never written: LMDB initialises it
  const fd = openSync(file, 'r');
  try {
    const magicAt = (pos: number): boolean => {
      const b = Buffer.alloc(4);
      return readSync(fd, b, 0, 4, pos + MAGIC_OFFSET) === 4 && b.readUInt32LE(0) === LMDB_MAGIC;
    };
    const second = [4096, 8192, 16384, 32768, 65536].some((ps) => size >= 2 * ps && magicAt(ps));
    if (!magicAt(0) || !second)
      throw new StoreError(
        `${where} is not an LMDB store, or its header pages are damaged (${size} bytes, no valid meta pages); it is not used: move it away to start afresh`,
      );
  } finally {
    closeSync(fd);
  }
}

function validIdentity(id: StoreIdentity, who: string): void {
  if (id.app.length === 0) throw new StoreError(`${who}: the application name is empty`);
  if (id.version.length === 0) throw new StoreError(`${who}: the application version is empty`);
  if (!Number.isInteger(id.partitions) || id.partitions < 1)
    throw new StoreError(`${who}: the partition count must be a positive integer, not ${id.partitions}`);
}

/** Opens (creating it if the directory holds none) the store in `opts.dir`. */
export async function openLmdbStore(opts: LmdbStoreOptions): Promise<LmdbStore> {
  const who = opts.owner ?? 'store';
  const durability = opts.durability ?? 'batch';
  if (!DURABILITY_LEVELS.includes(durability))
    throw new StoreError(
      `${who}: durability must be one of ${DURABILITY_LEVELS.join(', ')}, not ${String(durability)}`,
    );
  validIdentity(opts, who);
  checkDir(opts.dir, who);
  const file = path.join(opts.dir, FILE);
  const where = `${who}: store ${file}`;
  checkLmdbFile(file, where);
  let root: RootDatabase;
  try {
    root = open({
      path: file,
      noSubdir: true,
      maxDbs: 4,
      // Plain LMDB commits (lmdb-js's overlappingSync, which flushes after the write lock is
      // released, measured 5-10x slower per synchronous batch here). sync: each commit flushes
      // data and meta page before it returns; batch (MDB_NOMETASYNC): it flushes the data but
      // not the meta page, so a power loss may undo the latest commits, never a torn one;
      // none (MDB_NOSYNC): nothing is flushed, the OS writes back when it likes.
      overlappingSync: false,
      noMetaSync: durability === 'batch',
      noSync: durability === 'none',
    });
  } catch (e) {
    throw new StoreError(`${where} cannot be opened: ${(e as Error).message} (a corrupt or non-LMDB file?)`);
  }
  try {
    const data = root.openDB<Buffer, string>({
      name: 'data',
      encoding: 'binary',
      keyEncoding: 'ordered-binary',
    });
    const meta = root.openDB<Buffer, string>({ name: 'meta', encoding: 'binary' });
    const want: Header = {
      format: FORMAT,
      app: opts.app,
      version: opts.version,
      partitions: opts.partitions,
    };
    const raw = meta.getBinary(HEADER_KEY);
    if (raw === undefined) {
      const first = data.getKeys({ limit: 1 });
      for (const k of first)
        throw new StoreError(
          `${where} holds data (key ${JSON.stringify(k)}) but no header: it is torn or was written by something else; move it away to start afresh`,
        );
      meta.transactionSync(() => meta.putSync(HEADER_KEY, Buffer.from(JSON.stringify(want))));
    } else {
      const have = parseHeader(raw, where);
      const diffs: string[] = [];
      if (have.format !== want.format)
        diffs.push(`store format ${have.format}, this build reads ${want.format}`);
      if (have.app !== want.app)
        diffs.push(`application ${JSON.stringify(have.app)}, not ${JSON.stringify(want.app)}`);
      if (have.version !== want.version)
        diffs.push(`version ${JSON.stringify(have.version)}, not ${JSON.stringify(want.version)}`);
      if (have.partitions !== want.partitions)
        diffs.push(`${have.partitions} partitions, not ${want.partitions}`);
      if (diffs.length > 0)
        throw new StoreError(
          `${where} belongs to another application or configuration: it records ${diffs.join('; ')}. It is not used; pass another directory, or move this store away to start afresh`,
        );
    }
    return new LmdbStore(root, data, where, durability);
  } catch (e) {
    await root.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError(`${where} cannot be read: ${(e as Error).message} (a corrupt store?)`);
  }
}

/** The Store on LMDB. Get one with openLmdbStore. */
export class LmdbStore implements Store {
  private closed = false;

  constructor(
    private readonly root: RootDatabase,
    private readonly data: Database<Buffer, string>,
    /** `owner: store <file>`, for messages. */
    readonly where: string,
    readonly durability: Durability,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    this.assertOpen('get');
    const v = this.data.getBinary(key);
    return v === undefined ? undefined : new Uint8Array(v);
  }

  /** One LMDB write transaction; resolves once committed (with `sync`: and flushed to disk). */
  async writeBatch(ops: readonly StoreOp[]): Promise<void> {
    this.assertOpen('writeBatch');
    for (const op of ops) {
      if (typeof op.key !== 'string')
        throw new TypeError(`${this.where}: writeBatch: every op needs a string key`);
      if (op.key.length === 0) throw new TypeError(`${this.where}: writeBatch: an empty key`);
      if (Buffer.byteLength(op.key, 'utf8') > MAX_KEY_BYTES - 8)
        throw new TypeError(
          `${this.where}: writeBatch: key ${JSON.stringify(op.key.slice(0, 40))}... is longer than LMDB allows (about ${MAX_KEY_BYTES - 8} bytes)`,
        );
      if (op.value !== null && !(op.value instanceof Uint8Array))
        throw new TypeError(
          `${this.where}: writeBatch: the value of ${JSON.stringify(op.key)} is neither bytes nor null`,
        );
    }
    try {
      this.data.transactionSync(() => {
        for (const op of ops) {
          if (op.value === null) this.data.removeSync(op.key);
          else
            this.data.putSync(op.key, Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength));
        }
      });
    } catch (e) {
      const msg = (e as Error).message;
      const full = /File too large|No space|ENOSPC|EFBIG|MDB_MAP_FULL|disk full/i.test(msg)
        ? '; the disk or the file size limit is full: free space (or raise the limit) and restart the worker'
        : '';
      throw new StoreError(
        `${this.where}: a batch of ${ops.length} writes failed and none of it was applied (${msg})${full}; nothing committed before it is lost`,
      );
    }
  }

  async *scan(prefix: string): AsyncIterable<readonly [string, Uint8Array]> {
    this.assertOpen('scan');
    for (const { key, value } of this.data.getRange({ start: prefix })) {
      if (typeof key !== 'string' || !key.startsWith(prefix)) break;
      yield [key, new Uint8Array(value)] as const;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new Error(`${this.where}: ${what} after close()`);
  }
}
