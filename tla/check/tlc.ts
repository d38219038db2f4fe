// The TLC engine: runs tlc2.TLC from tla2tools.jar (named by TLA2TOOLS_JAR) on a copy of the
// spec's folder, and reads its output (summary lines, error messages, counterexample states
// printed as TLA+ values) into the same summary the built-in checker produces.
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants as fsConstants,
  cpSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TlaError } from '../errors.ts';
import { LIBRARY_DIR } from '../parse/index.ts';
import { IntervalSet, fcnFromPairs, mkRecord, modelValue, setOf, tuple, type Value } from '../values.ts';

export type TlcVerdict = 'ok' | 'invariant' | 'property' | 'deadlock' | 'error';

export interface TlcState {
  /** What TLC printed after "State n: ": `<Initial predicate>`, `<Next line 3, col 1 to ... of module M>`. */
  readonly header: string;
  /** The action name TLC gave (the operator before " line ..."), or null. */
  readonly action: string | null;
  /** Variable name -> value, in the order TLC printed them. */
  readonly vars: ReadonlyMap<string, Value>;
}

export interface TlcOutcome {
  readonly result: TlcVerdict;
  readonly distinctStates: number | null;
  readonly statesGenerated: number | null;
  readonly depth: number | null;
  readonly leftOnQueue: number | null;
  /** The first "Error: ..." line (without "Error: "), if any. */
  readonly message: string | null;
  /** The lines that followed the first error line up to the trace or the summary. */
  readonly detail: string[];
  readonly violation: {
    readonly name: string | null;
    readonly kind: 'invariant' | 'deadlock' | 'action-property' | 'liveness';
  } | null;
  readonly trace: TlcState[];
  /** 0-based index the lasso loops back to ("Back to state k" gives k - 1). */
  readonly loopsTo: number | null;
  /** The counterexample ends with "State n: Stuttering". */
  readonly stuttering: boolean;
}

const SUMMARY = /^(\d+) states generated, (\d+) distinct states found, (\d+) states left on queue\.$/;
const DEPTH = /^The depth of the complete state graph search is (\d+)\.$/;
const STATE_HEADER = /^State (\d+): (.*)$/;
const BACK_TO = /^Back to state (\d+)(?::.*)?$/;

/** Lines of SANY's error report that say nothing about the error itself. */
const SANY_NOISE =
  /^(Residual stack trace follows:|.* starting at line \d+, column \d+\.|tla2sany\.|\*\*\* (Abort messages|Errors):|Fatal errors while parsing|In module \w+$)/;

/** Parses TLC's standard output (as printed without -tool). */
export function parseTlcOutput(text: string): TlcOutcome {
  const lines = text.split(/\r?\n/);
  let distinct: number | null = null;
  let generated: number | null = null;
  let left: number | null = null;
  let depth: number | null = null;
  let message: string | null = null;
  const detail: string[] = [];
  const trace: TlcState[] = [];
  let loopsTo: number | null = null;
  let stuttering = false;
  let inDetail = false;
  // SANY's report of a parse or semantic error, printed before TLC's one-line "Error:".
  const cause: string[] = [];
  let inCause = false;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trimEnd();
    let m: RegExpMatchArray | null;
    if (/^(\*\*\*Parse Error\*\*\*|Semantic errors:|Lexical error)/.test(line)) {
      inCause = true;
      if (line.startsWith('Lexical error')) cause.push(line);
      continue;
    }
    if (inCause) {
      if (/^(Starting\.\.\.|Error: )/.test(line)) inCause = false;
      else {
        if (line !== '' && !SANY_NOISE.test(line)) cause.push(line.trim());
        continue;
      }
    }
    if ((m = line.match(SUMMARY))) {
      generated = Number(m[1]);
      distinct = Number(m[2]);
      left = Number(m[3]);
      inDetail = false;
      continue;
    }
    if ((m = line.match(DEPTH))) {
      depth = Number(m[1]);
      continue;
    }
    if (line.startsWith('Error: ')) {
      const body = line.slice('Error: '.length);
      if (
        /^The (behavior up to this point is|following behavior constitutes a counter-example):?$/.test(body)
      ) {
        inDetail = false;
        continue;
      }
      if (message === null) {
        message = body;
        inDetail = true;
        // An invariant violated by an initial state: the state follows without a "State 1:" line.
        if (/is violated by the initial state:?$/.test(body)) {
          const { state, next } = readState(lines, i + 1, '<Initial predicate>');
          if (state) trace.push(state);
          i = next - 1;
          inDetail = false;
        }
      } else if (inDetail) {
        detail.push(body);
      }
      continue;
    }
    if ((m = line.match(STATE_HEADER))) {
      inDetail = false;
      const header = m[2]!;
      if (header === 'Stuttering') {
        stuttering = true;
        continue;
      }
      const { state, next } = readState(lines, i + 1, header);
      if (state) trace.push(state);
      i = next - 1;
      continue;
    }
    if ((m = line.match(BACK_TO))) {
      loopsTo = Number(m[1]) - 1;
      continue;
    }
    if (inDetail) {
      if (
        line === '' ||
        /^(The error occurred when|Finished in|Starting\.\.\.|Progress|Model checking completed)/.test(line)
      ) {
        inDetail = line === '' ? inDetail : false;
        continue;
      }
      detail.push(line);
    }
  }

  if (message !== null && /^Parsing or semantic analysis failed\.?$/.test(message) && cause.length > 0) {
    message = `${message.replace(/\.$/, '')}: ${cause.join('; ')}`;
  }
  const verdict = classify(message);
  return {
    result: verdict.result,
    distinctStates: distinct,
    statesGenerated: generated,
    depth,
    leftOnQueue: left,
    message,
    detail,
    violation: verdict.violation,
    trace,
    loopsTo,
    stuttering,
  };
}

function classify(message: string | null): { result: TlcVerdict; violation: TlcOutcome['violation'] } {
  if (message === null) return { result: 'ok', violation: null };
  let m: RegExpMatchArray | null;
  if ((m = message.match(/^Invariant (.+?) is violated( by the initial state)?[.:]?$/))) {
    return { result: 'invariant', violation: { name: m[1]!, kind: 'invariant' } };
  }
  if (/^Deadlock reached\.?$/.test(message))
    return { result: 'deadlock', violation: { name: null, kind: 'deadlock' } };
  if ((m = message.match(/^Action property (.+?) is violated\.?$/))) {
    return { result: 'property', violation: { name: m[1]!, kind: 'action-property' } };
  }
  if (/^Temporal properties were violated\.?$/.test(message)) {
    return { result: 'property', violation: { name: null, kind: 'liveness' } };
  }
  if ((m = message.match(/^Property (.+?) is violated( by the initial state)?[.:]?$/))) {
    return { result: 'property', violation: { name: m[1]!, kind: 'invariant' } };
  }
  return { result: 'error', violation: null };
}

/** Reads `/\ x = v` lines (or a single `x = v`) from `start` up to a blank line. */
function readState(
  lines: readonly string[],
  start: number,
  header: string,
): { state: TlcState | null; next: number } {
  const body: string[] = [];
  let i = start;
  while (i < lines.length && lines[i]!.trim() !== '') {
    body.push(lines[i]!);
    i++;
  }
  if (body.length === 0) return { state: null, next: i };
  const vars = new Map<string, Value>();
  const text = body.join('\n');
  // Split on conjunct bullets at the start of a line.
  const parts = /^\s*\/\\/.test(body[0]!)
    ? text.split(/^\s*\/\\\s?/m).filter((p) => p.trim() !== '')
    : [text];
  for (const part of parts) {
    const eq = part.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([\s\S]*)$/);
    if (!eq) throw new TlaError('io', `cannot read TLC's state line ${JSON.stringify(part.trim())}`);
    vars.set(eq[1]!, parseTlcValue(eq[2]!));
  }
  const am = header.match(/^<([A-Za-z_][A-Za-z0-9_!]*)(?:\((.*)\))? line \d+/);
  return { state: { header, action: am ? am[1]! : null, vars }, next: i };
}

/**
 * Parses a TLA+ value as TLC prints it: integers, strings, TRUE/FALSE, model values (bare
 * identifiers), sets, tuples, records, functions `(k :> v @@ ...)`, `[k \in S |-> v]` is not
 * printed by TLC. Errors name the offending text.
 */
export function parseTlcValue(text: string): Value {
  let p = 0;
  const ws = (): void => {
    while (p < text.length && /\s/.test(text[p]!)) p++;
  };
  const fail = (what: string): never => {
    throw new TlaError(
      'io',
      `cannot read TLC's value ${JSON.stringify(text.trim().slice(0, 200))}: ${what} at offset ${p}`,
    );
  };
  const eat = (s: string): boolean => {
    ws();
    if (text.startsWith(s, p)) {
      p += s.length;
      return true;
    }
    return false;
  };
  const expect = (s: string): void => {
    if (!eat(s)) fail(`expected "${s}"`);
  };
  const list = (close: string): Value[] => {
    const out: Value[] = [];
    if (eat(close)) return out;
    for (;;) {
      out.push(value());
      if (eat(close)) return out;
      expect(',');
    }
  };
  const primary = (): Value => {
    ws();
    const c = text[p];
    if (c === undefined) return fail('unexpected end');
    if (text.startsWith('<<', p)) {
      p += 2;
      return tuple(list('>>'));
    }
    if (c === '{') {
      p++;
      return setOf(list('}'));
    }
    if (c === '[') {
      p++;
      const fields: [string, Value][] = [];
      if (eat(']')) return mkRecord(fields);
      for (;;) {
        ws();
        const m = text.slice(p).match(/^[A-Za-z_][A-Za-z0-9_]*/);
        if (!m) fail('expected a field name');
        p += m![0].length;
        expect('|->');
        fields.push([m![0], value()]);
        if (eat(']')) return mkRecord(fields);
        expect(',');
      }
    }
    if (c === '(') {
      p++;
      const keys: Value[] = [];
      const vals: Value[] = [];
      for (;;) {
        const k = value();
        if (!eat(':>')) {
          // a parenthesised value
          expect(')');
          if (keys.length > 0) fail('expected ":>"');
          return k;
        }
        keys.push(k);
        vals.push(value());
        if (eat(')')) return fcnFromPairs(keys, vals);
        expect('@@');
      }
    }
    if (c === '"') {
      let s = '';
      p++;
      while (p < text.length && text[p] !== '"') {
        if (text[p] === '\\') {
          const e = text[p + 1];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === 'f' ? '\f' : (e ?? '');
          p += 2;
        } else {
          s += text[p++];
        }
      }
      if (text[p] !== '"') fail('unterminated string');
      p++;
      return s;
    }
    const num = text.slice(p).match(/^-?\d+/);
    if (num) {
      p += num[0].length;
      // TLC prints an integer interval as lo..hi
      const hi = text.slice(p).match(/^\s*\.\.\s*(-?\d+)/);
      if (hi) {
        p += hi[0].length;
        return new IntervalSet(Number(num[0]), Number(hi[1]));
      }
      return Number(num[0]);
    }
    const id = text.slice(p).match(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (id) {
      p += id[0].length;
      if (id[0] === 'TRUE') return true;
      if (id[0] === 'FALSE') return false;
      return modelValue(id[0]);
    }
    return fail('unexpected character');
  };
  // `k :> v` without parentheses (a one-element function) is also possible at top level.
  const value = (): Value => {
    const v = primary();
    const save = p;
    if (eat(':>')) {
      const keys = [v];
      const vals = [primary()];
      while (eat('@@')) {
        keys.push(primary());
        expect(':>');
        vals.push(primary());
      }
      return fcnFromPairs(keys, vals);
    }
    p = save;
    return v;
  };
  const v = value();
  ws();
  if (p !== text.length) fail('unexpected text after the value');
  return v;
}

export interface TlcRunOptions {
  readonly specFile: string;
  readonly cfgFile: string;
  readonly libDirs?: readonly string[];
  readonly checkDeadlock?: boolean;
  /** TLC worker threads (default 1, as the parity and benchmark figures assume). */
  readonly workers?: number;
  readonly jar?: string;
  readonly javaOptions?: readonly string[];
  /** Called with each line TLC prints (progress display). */
  readonly onLine?: (line: string) => void;
}

export interface TlcRun {
  readonly outcome: TlcOutcome;
  readonly exitCode: number;
  readonly output: string;
  readonly durationMs: number;
}

/** The jar named by TLA2TOOLS_JAR when it is a readable file, else null. */
export function tlcJar(env: NodeJS.ProcessEnv = process.env): string | null {
  const jar = env.TLA2TOOLS_JAR;
  if (!jar) return null;
  try {
    accessSync(jar, fsConstants.R_OK);
    return statSync(jar).isFile() ? jar : null;
  } catch {
    return null;
  }
}

/** True when `java` can be started. */
export function javaAvailable(): boolean {
  const dirs = (process.env.PATH ?? '').split(path.delimiter);
  return dirs.some((d) => {
    try {
      accessSync(path.join(d, 'java'), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Runs TLC (-workers 1) in a temporary copy of the spec's folder and the library folders. */
export async function runTlc(opts: TlcRunOptions): Promise<TlcRun> {
  const jar = opts.jar ?? tlcJar();
  if (!jar)
    throw new TlaError(
      'io',
      'TLA2TOOLS_JAR does not name a readable tla2tools.jar; set it to use --engine tlc',
    );
  const work = mkdtempSync(path.join(tmpdir(), 'buffy-tlc-'));
  try {
    const specDir = path.dirname(path.resolve(opts.specFile));
    // The built-in checker's search order (spec folder, each --lib folder, tla/lib; the first
    // found wins): copied in reverse, so a later copy overwrites. TLC's own modules (those in
    // its jar, some with Java implementations) are not replaced by tla/lib's sources.
    copyModules(LIBRARY_DIR, work, TLC_OWN_MODULES);
    for (const dir of [...(opts.libDirs ?? [])].reverse()) copyModules(dir, work);
    copyModules(specDir, work);
    const cfgName = '__buffy_model.cfg';
    cpSync(path.resolve(opts.cfgFile), path.join(work, cfgName));
    const args = [
      '-XX:+UseParallelGC',
      ...(opts.javaOptions ?? []),
      '-cp',
      path.resolve(jar),
      'tlc2.TLC',
      '-workers',
      String(opts.workers ?? 1),
      '-config',
      cfgName,
      '-metadir',
      path.join(work, 'states'),
      ...(opts.checkDeadlock === false ? ['-deadlock'] : []),
      path.basename(opts.specFile),
    ];
    const started = Date.now();
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve, reject) => {
      const child = spawn('java', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let partial = '';
      const onData = (b: Buffer): void => {
        const s = b.toString('utf8');
        out += s;
        if (opts.onLine) {
          partial += s;
          const parts = partial.split('\n');
          partial = parts.pop()!;
          for (const l of parts) opts.onLine(l);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', (e) => reject(new TlaError('io', `could not start java: ${e.message}`)));
      child.on('close', (c) => resolve({ code: c ?? 255, output: out }));
    });
    return { outcome: parseTlcOutput(output), exitCode: code, output, durationMs: Date.now() - started };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Modules tla2tools.jar ships (StandardModules/): TLC's versions are kept. */
const TLC_OWN_MODULES: ReadonlySet<string> = new Set(['Json.tla', 'Randomization.tla', 'TLCExt.tla']);

function copyModules(dir: string, into: string, skip: ReadonlySet<string> = new Set()): void {
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.tla') && !skip.has(f)) cpSync(path.join(dir, f), path.join(into, f));
  }
}
