import type { Loc } from './ast.ts';

/** What went wrong, by stage; the CLI maps parse and semantic errors to exit code 2, the rest to 1. */
export type TlaErrorKind = 'parse' | 'semantic' | 'eval' | 'unsupported' | 'config' | 'io';

/** An error in a spec, a model or the toolchain's input, with the place it arose. */
export class TlaError extends Error {
  constructor(
    readonly kind: TlaErrorKind,
    message: string,
    readonly loc: Loc | null = null,
  ) {
    super(message);
    this.name = 'TlaError';
  }

  /** `file:line:col: message` (or the bare message when no place is known). */
  describe(): string {
    return this.loc ? `${formatLoc(this.loc)}: ${this.message}` : this.message;
  }
}

export function formatLoc(loc: Loc): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}
