// Flags shared by the benchmark scripts: `--name N` as a positive integer, with a default.

/** The positive integer after `name` on the command line, or `fallback` when the flag is absent. */
export function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`${name} ${process.argv[i + 1]}: must be a positive integer`);
  return v;
}
