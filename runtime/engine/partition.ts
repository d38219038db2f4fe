// Keys -> partitions by a stable hash (the same in every process and every run), partitions ->
// workers by the partition table that every worker holds.
import type { PartitionTable } from '../types.ts';
import type { Key } from '../api/app.ts';

/** 32-bit hash of a key: FNV-1a over UTF-16 code units with a final fmix32; integers in
 * int32 range hash by value. Stable across processes, platforms and runs. */
export function hashKey(key: Key): number {
  if (typeof key === 'number') {
    if ((key | 0) === key) return fmix32(key ^ 0x27d4eb2d);
    return hashString(String(key));
  }
  return hashString(key);
}

export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function partitionOfKey(key: Key, partitionCount: number): number {
  return hashKey(key) % partitionCount;
}

export class PartitionTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PartitionTableError';
  }
}

/** Every partition owned by one worker (embedded mode). */
export function singleWorkerTable(worker: string, partitionCount: number): PartitionTable {
  return validatePartitionTable({ partitionCount, owners: new Array<string>(partitionCount).fill(worker) });
}

/** Partitions assigned to workers round-robin, in the order given. */
export function roundRobinTable(workers: readonly string[], partitionCount: number): PartitionTable {
  if (workers.length === 0) throw new PartitionTableError('a partition table needs at least one worker');
  const owners: string[] = [];
  for (let p = 0; p < partitionCount; p++) owners.push(workers[p % workers.length]!);
  return validatePartitionTable({ partitionCount, owners });
}

/** Checks a table (e.g. received from the network): count, length, names. */
export function validatePartitionTable(table: PartitionTable): PartitionTable {
  const n = table.partitionCount;
  if (!Number.isInteger(n) || n < 1 || n > 65536) {
    throw new PartitionTableError(
      `partition table: partitionCount ${String(n)} must be an integer in 1..65536`,
    );
  }
  if (!Array.isArray(table.owners) || table.owners.length !== n) {
    throw new PartitionTableError(
      `partition table: owners has ${Array.isArray(table.owners) ? table.owners.length : 'no'} entries, expected ${n}`,
    );
  }
  table.owners.forEach((w, p) => {
    if (typeof w !== 'string' || w.length === 0) {
      throw new PartitionTableError(
        `partition table: partition ${p} has no owner (got ${JSON.stringify(w)})`,
      );
    }
  });
  return table;
}

/** The worker that owns a key's partition. */
export function ownerOfKey(table: PartitionTable, key: Key): string {
  return table.owners[partitionOfKey(key, table.partitionCount)]!;
}
