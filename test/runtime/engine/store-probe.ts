// Test helper: a Store over a MemoryStore whose writeBatch (the commit) a test sees or changes:
// counts commits, delays them, keeps only some, checks what they record.
import type { MemoryStore } from '../../../runtime/system.ts';
import type { Store, StoreOp } from '../../../runtime/types.ts';

export function probedStore(
  inner: MemoryStore,
  writeBatch: (ops: readonly StoreOp[]) => Promise<void>,
): Store {
  return {
    get: (k) => inner.get(k),
    scan: (p) => inner.scan(p),
    close: () => inner.close(),
    writeBatch,
  };
}
