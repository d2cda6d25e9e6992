/**
 * The member index of an uncompressed tar in a file, read by seeking from
 * header to header: a 1 GB `docker save` archive costs one 512-byte read per
 * member, never a read of the members' data. Also used on an uncompressed
 * layer blob inside an archive (a region of the file). Read-only.
 */
import * as fs from 'node:fs';
import { Pacer } from '../concurrency';
import { LayerError, errorMessage, fromFsError } from '../errors';
import { BLOCK, nextHeader, TarHeaderDecoder, type TarMember } from './tarHeader';

/** Where a tar (or any blob) lives: `size` bytes at offset `start` of `file`. */
export interface FileRegion {
  readonly file: string;
  readonly start: number;
  readonly size: number;
  /** Open `file` O_NOFOLLOW (a file of an OCI-layout folder; an archive given by a symlink is followed). */
  readonly noFollow?: true;
}

export interface TarScan {
  /** Members in archive order; data offsets relative to the start of the tar. */
  readonly members: TarMember[];
  /** Why the index stops early (a truncated or damaged tar); the members before it are good. */
  readonly stopped?: string;
}

/** The flags of openReadOnly (O_NONBLOCK: a FIFO given as an archive never blocks the open). */
function readOnlyFlags(noFollow?: boolean): number {
  const c = fs.constants;
  return c.O_RDONLY | (c.O_NONBLOCK ?? 0) | (noFollow ? (c.O_NOFOLLOW ?? 0) : 0);
}

/** Opens a file read-only; with `noFollow`, a symlink is refused, not followed. */
export function openReadOnly(file: string, noFollow?: boolean): number {
  try {
    return fs.openSync(file, readOnlyFlags(noFollow));
  } catch (err) {
    throw noFollowError(err, file, noFollow) ?? fromFsError(err, file);
  }
}

/** ELOOP from an O_NOFOLLOW open: the file is a symlink (not a loop). */
function noFollowError(err: unknown, file: string, noFollow?: boolean): LayerError | undefined {
  if (!noFollow || (err as NodeJS.ErrnoException | undefined)?.code !== 'ELOOP') return undefined;
  return new LayerError('not-found', `${file} is a symbolic link: not followed out of the OCI layout`, file, err);
}

/** Reads up to `length` bytes at `position`; fewer only at the end of the file. */
export function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let off = 0;
  while (off < length) {
    const n = fs.readSync(fd, buf, off, length - off, position + off);
    if (n === 0) break;
    off += n;
  }
  return off === length ? buf : buf.subarray(0, off);
}

/** Headers closer together than this (small members) are read in one window, not one read each. */
const WINDOW = 256 * 1024;

/**
 * Reads blocks of a file through a window: a layer of 100,000 small files is
 * read in a few hundred reads; a big member is skipped by seeking past it.
 */
class BlockReader {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;

  constructor(private readonly fd: number) {}

  read(position: number, length: number): Buffer {
    if (position < this.at || position + length > this.at + this.buf.length) {
      if (length > WINDOW) return readAt(this.fd, length, position);
      this.buf = readAt(this.fd, WINDOW, position);
      this.at = position;
    }
    const from = position - this.at;
    return this.buf.subarray(from, Math.min(from + length, this.buf.length));
  }
}

/** Indexes the tar in `region` header to header. Throws only when the file cannot be opened or the signal fires. */
export async function indexTarRegion(region: FileRegion, signal?: AbortSignal): Promise<TarScan> {
  const fd = openReadOnly(region.file, region.noFollow);
  const reader = new BlockReader(fd);
  const members: TarMember[] = [];
  const decoder = new TarHeaderDecoder();
  const pace = new Pacer(signal);
  let pos = 0;
  try {
    for (;;) {
      if (pace.due()) await pace.pause();
      if (pos + BLOCK > region.size) {
        if (pos < region.size || members.length === 0) return { members, stopped: truncated(region, pos) };
        return { members }; // ends without the zero blocks: tolerated
      }
      const block = reader.read(region.start + pos, BLOCK);
      if (block.length < BLOCK) return { members, stopped: truncated(region, pos) };
      let h;
      try {
        h = decoder.decode(block, pos);
      } catch (err) {
        return { members, stopped: `${errorMessage(err)}; the members after it are not listed` };
      }
      if (h.type === 'end') return { members };
      if (h.type === 'extended') {
        if (pos + BLOCK + h.size > region.size) return { members, stopped: truncated(region, pos) };
        decoder.extended(Buffer.from(reader.read(region.start + pos + BLOCK, h.size)));
        pos = nextHeader(pos + BLOCK, h.size);
        continue;
      }
      const m = h.member;
      if (m.dataOffset + m.size > region.size) {
        // Kept, cut: a layer whose blob is cut short still lists the entries it holds.
        members.push({ ...m, size: Math.max(0, region.size - m.dataOffset), cut: true });
        return { members, stopped: truncated(region, pos, m.name) };
      }
      members.push(m);
      pos = nextHeader(m.dataOffset, m.size);
    }
  } catch (err) {
    throw err instanceof LayerError ? err : fromFsError(err, region.file);
  } finally {
    fs.closeSync(fd);
  }
}

function truncated(region: FileRegion, at: number, name?: string): string {
  const what = name ? `member ${name} at byte ${at} is cut short` : `it ends inside the header at byte ${at}`;
  return `the tar is truncated (${region.size} bytes): ${what}; the members after it are missing`;
}
