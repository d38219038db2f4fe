// `buffy send --resume-file`: the acknowledged position of a stream, written after each
// acknowledgement (a temporary file renamed over it, so a kill leaves the old or the new one).

import fs from 'node:fs';

/** A resume file that does not belong to this run (another stream, a changed file) or cannot
 * be read or written: bad usage. */
export class ResumeFileError extends Error {
  override readonly name = 'ResumeFileError';
}

/** What a resume file holds: the stream, the file it was sent from, where line 0 sits at the
 * source, and the last line acknowledged (-1: none). */
export interface ResumeState {
  readonly version: 1;
  readonly stream: string;
  readonly file: string;
  readonly fileBytes: number;
  readonly to: string;
  readonly base: number | null;
  readonly acknowledged: number;
}

export function readResumeFile(file: string, stream: string, fileBytes: number): ResumeState | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ResumeFileError(`--resume-file ${file}: cannot read: ${(err as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ResumeFileError(
      `--resume-file ${file}: not a resume file of buffy send (not JSON); delete it to start over`,
    );
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const intAtLeast = (x: unknown, min: number): boolean => Number.isSafeInteger(x) && (x as number) >= min;
  if (
    o.version !== 1 ||
    typeof o.stream !== 'string' ||
    typeof o.file !== 'string' ||
    !intAtLeast(o.fileBytes, 0) ||
    typeof o.to !== 'string' ||
    !(o.base === null || intAtLeast(o.base, 0)) ||
    !intAtLeast(o.acknowledged, -1)
  )
    throw new ResumeFileError(
      `--resume-file ${file}: not a resume file of buffy send (fields missing or wrong); delete it to start over`,
    );
  const r = o as unknown as ResumeState;
  if (r.stream !== stream)
    throw new ResumeFileError(
      `--resume-file ${file} belongs to stream '${r.stream}' (file ${r.file}), not '${stream}': use another resume file, or delete it to start over`,
    );
  if (r.fileBytes !== fileBytes)
    throw new ResumeFileError(
      `--resume-file ${file}: ${r.file} had ${r.fileBytes} bytes when it was written, now ${fileBytes}: the file changed, so line numbers may not match; delete the resume file to send it all again`,
    );
  return r;
}

export function writeResumeFile(file: string, state: ResumeState): void {
  const tmp = `${file}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(state) + '\n');
    fs.renameSync(tmp, file);
  } catch (err) {
    throw new ResumeFileError(`--resume-file ${file}: cannot write: ${(err as Error).message}`);
  }
}
