/**
 * The member index of a tar that can only be streamed (a gzip or zstd layer
 * blob): one pass, headers decoded as they arrive, data counted and skipped.
 * And one member's bytes from such a stream, by the offset the index gave.
 */
import type { Readable } from 'node:stream';
import { LayerError, errorMessage, throwIfAborted } from '../errors';
import { BLOCK, nextHeader, TarHeaderDecoder, type TarMember } from './tarHeader';
import type { TarScan } from './tarIndex';

/** Indexes the tar streamed by `stream` (destroyed at the end). A stream that breaks off gives the members read so far. */
export async function indexTarStream(stream: Readable, signal?: AbortSignal): Promise<TarScan> {
  const members: TarMember[] = [];
  const decoder = new TarHeaderDecoder();
  /** Bytes of the stream consumed. */
  let pos = 0;
  /** Bytes still to skip (member data and padding). */
  let skip = 0;
  /** The block (header or extended data) being gathered, and how long it must get. */
  let want = BLOCK;
  let parts: Buffer[] = [];
  let have = 0;
  let extended = false;
  let stopped: string | undefined;
  let ended = false;

  const take = (whole: Buffer, at: number): void => {
    if (!extended) {
      const h = decoder.decode(whole, at);
      if (h.type === 'end') {
        ended = true;
      } else if (h.type === 'extended') {
        extended = true;
        want = h.size;
        if (want === 0) {
          decoder.extended(whole.subarray(0, 0));
          extended = false;
          want = BLOCK;
        }
      } else {
        members.push(h.member);
        skip = nextHeader(h.member.dataOffset, h.member.size) - h.member.dataOffset;
      }
    } else {
      decoder.extended(whole);
      skip = nextHeader(0, want) - want;
      extended = false;
      want = BLOCK;
    }
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      throwIfAborted(signal);
      let off = 0;
      while (off < chunk.length && !ended) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - off);
          skip -= n;
          off += n;
          pos += n;
          continue;
        }
        const n = Math.min(want - have, chunk.length - off);
        parts.push(chunk.subarray(off, off + n));
        have += n;
        off += n;
        pos += n;
        if (have === want) {
          const whole = parts.length === 1 ? parts[0] : Buffer.concat(parts);
          parts = [];
          have = 0;
          take(whole, pos - want);
        }
      }
      if (ended) break;
    }
    if (!ended && (have > 0 || skip > 0)) stopped = `the layer's tar is truncated at byte ${pos}: the entries after it are missing`;
  } catch (err) {
    if (err instanceof LayerError && err.code === 'cancelled') throw err;
    stopped = `the layer's tar could not be read past byte ${pos}: ${errorMessage(err)}`;
  } finally {
    stream.destroy();
  }
  // A member cut short by the end of the stream is not listed whole.
  if (stopped && members.length > 0 && skip > 0) members.pop();
  return { members, stopped };
}

/** Chunks of `stream` from byte `offset`, `size` bytes in all (destroyed once read); throws `corrupt` when it ends first. */
export async function* streamRange(stream: Readable, offset: number, size: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let pos = 0;
  let got = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      throwIfAborted(signal);
      const end = pos + chunk.length;
      if (end > offset && got < size) {
        const from = Math.max(0, offset - pos);
        const n = Math.min(chunk.length - from, size - got);
        got += n;
        yield chunk.subarray(from, from + n);
      }
      pos = end;
      if (got === size) return;
    }
  } finally {
    stream.destroy();
  }
  if (got < size) throw new LayerError('corrupt', `the layer's data ends at byte ${pos}, before the ${size} bytes at ${offset}`);
}

/** `size` bytes at offset `offset` of the stream, whole. */
export async function readStreamRange(stream: Readable, offset: number, size: number, signal?: AbortSignal): Promise<Buffer> {
  const out = Buffer.alloc(size);
  let got = 0;
  for await (const part of streamRange(stream, offset, size, signal)) got += part.copy(out, got);
  return out;
}
