// Codecs: how typed messages become bytes/strings and back. A state step whose inputs may cross
// workers needs a codec for them; sources need a decoder and sinks an encoder.
import type { RawPayload } from '../types.ts';

export interface Codec<T> {
  readonly name: string;
  encode(value: T): RawPayload;
  decode(payload: RawPayload): T;
}

export type Decoder<T> = (payload: RawPayload) => T;
export type Encoder<T> = (value: T) => RawPayload;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Bytes or string -> string (bytes are read as UTF-8). */
export function payloadToString(payload: RawPayload): string {
  return typeof payload === 'string' ? payload : utf8.decode(payload);
}

/** The fast codec for strings: the string itself is the payload. */
export const stringCodec: Codec<string> = {
  name: 'string',
  encode: (value: string): RawPayload => value,
  decode: payloadToString,
};

/** JSON for plain data (objects, arrays, numbers, strings, booleans, null). */
export function jsonCodec<T>(): Codec<T> {
  return {
    name: 'json',
    encode: (value: T): RawPayload => JSON.stringify(value),
    decode: (payload: RawPayload): T => JSON.parse(payloadToString(payload)) as T,
  };
}

/** Raw bytes, unchanged (strings are encoded as UTF-8). */
export const bytesCodec: Codec<Uint8Array> = {
  name: 'bytes',
  encode: (value: Uint8Array): RawPayload => value,
  decode: (payload: RawPayload): Uint8Array =>
    typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
};

export function asDecoder<T>(d: Decoder<T> | Codec<T>): Decoder<T> {
  return typeof d === 'function' ? d : (p: RawPayload) => d.decode(p);
}

export function asEncoder<T>(e: Encoder<T> | Codec<T>): Encoder<T> {
  return typeof e === 'function' ? e : (v: T) => e.encode(v);
}
