/**
 * Are two layer files' bytes the same? Never judged by size alone, and never
 * through a symlink:
 *
 * - the safe path (any file, any size): each side resolved through
 *   layerFiles.ts (segment by segment with lstat), opened O_NOFOLLOW |
 *   O_NONBLOCK | O_NOCTTY and checked to be the very inode resolved, then both
 *   streamed side by side in chunks and stopped at the first difference;
 * - the quick path (Linux, small files, the common case by far): quickCompare.ts,
 *   run in batches by comparePool.ts, which leaves the pairs it cannot answer
 *   to the safe path;
 * - a layer inside an image archive (`tar`): both sides read through
 *   readLayerFile, which knows archives.
 */
import * as fs from 'node:fs';
import { diskPath } from './byteNames';
import { LayerError, fromFsError, throwIfAborted } from './errors';
import { layerPathSegments, resolveIn } from './layerFiles';
import { readTarFileChunks } from './tar/tarLayer';
import type { LayerContent } from './model';

const CHUNK = 256 * 1024;

/** One regular file of one layer, opened read-only without following anything. */
export async function openLayerFile(content: LayerContent, entryPath: string, signal?: AbortSignal): Promise<{ handle: fs.promises.FileHandle; st: fs.Stats }> {
  const r = await resolveIn(content, layerPathSegments(entryPath), signal);
  if (r.kind !== 'found') throw new LayerError('not-found', `${entryPath} is not in layer ${content.dir}`, entryPath);
  if (!r.st.isFile()) throw new LayerError('unsupported', `${entryPath} is not a regular file in layer ${content.dir}`, entryPath);
  const c = fs.constants;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(diskPath(r.disk), c.O_RDONLY | (c.O_NOFOLLOW ?? 0) | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0));
  } catch (err) {
    throw fromFsError(err, entryPath);
  }
  const st = await handle.stat().catch(async (err) => {
    await handle.close();
    throw fromFsError(err, entryPath);
  });
  if (!st.isFile() || st.ino !== r.st.ino || st.dev !== r.st.dev) {
    await handle.close();
    throw new LayerError('io', `${entryPath} changed while it was opened: not read`, entryPath);
  }
  return { handle, st };
}

/**
 * The bytes of one regular file of a layer, in chunks: from its archive's blob
 * (any size, never held whole), or from disk through openLayerFile, which must
 * then be the inode `expect` (the caller's lstat) when given. A chunk is valid
 * until the next one is asked for: a file on disk is read into one buffer.
 */
export async function* layerFileChunks(content: LayerContent, entryPath: string, signal?: AbortSignal, expect?: Pick<fs.Stats, 'ino' | 'dev'>): AsyncGenerator<Buffer> {
  if (content.tar) {
    yield* readTarFileChunks(content, entryPath, signal);
    return;
  }
  const { handle, st } = await openLayerFile(content, entryPath, signal);
  try {
    if (expect && (st.ino !== expect.ino || st.dev !== expect.dev)) throw new LayerError('io', `${entryPath} changed while it was opened: not read`, entryPath);
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, st.size)));
    for (let off = 0; ; ) {
      throwIfAborted(signal);
      const { bytesRead } = await handle.read(buf, 0, buf.length, off).catch((err: unknown) => {
        throw fromFsError(err, entryPath);
      });
      if (bytesRead === 0) return;
      off += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** Whether two chunk streams hold the same bytes; chunk boundaries may differ. Both are closed when it returns. */
async function sameChunks(a: AsyncGenerator<Buffer>, b: AsyncGenerator<Buffer>): Promise<boolean> {
  let x: Buffer = Buffer.alloc(0);
  let y: Buffer = Buffer.alloc(0);
  let doneA = false;
  let doneB = false;
  try {
    for (;;) {
      if (x.length === 0 && !doneA) {
        const r = await a.next();
        if (r.done) doneA = true;
        else x = r.value;
        continue;
      }
      if (y.length === 0 && !doneB) {
        const r = await b.next();
        if (r.done) doneB = true;
        else y = r.value;
        continue;
      }
      // An empty side has ended: equal only if the other has too.
      if (x.length === 0 || y.length === 0) return x.length === y.length;
      const n = Math.min(x.length, y.length);
      if (x.compare(y, 0, n, 0, n) !== 0) return false;
      x = x.subarray(n);
      y = y.subarray(n);
    }
  } finally {
    await Promise.all([a.return(undefined), b.return(undefined)]);
  }
}

/**
 * True when `path` in layer `a` and `path` in layer `b` hold the same bytes.
 * The same inode on both sides (one layer folder seen twice) is equal unread.
 */
async function streamedSame(a: LayerContent, b: LayerContent, entryPath: string, signal?: AbortSignal): Promise<boolean> {
  const left = await openLayerFile(a, entryPath, signal);
  try {
    const right = await openLayerFile(b, entryPath, signal);
    try {
      if (left.st.ino === right.st.ino && left.st.dev === right.st.dev) return true;
      if (left.st.size !== right.st.size) return false;
      const bufA = Buffer.allocUnsafe(CHUNK);
      const bufB = Buffer.allocUnsafe(CHUNK);
      for (let off = 0; ; ) {
        throwIfAborted(signal);
        const [ra, rb] = await Promise.all([left.handle.read(bufA, 0, CHUNK, off), right.handle.read(bufB, 0, CHUNK, off)]);
        if (ra.bytesRead !== rb.bytesRead) return false;
        if (ra.bytesRead === 0) return true;
        if (bufA.compare(bufB, 0, rb.bytesRead, 0, ra.bytesRead) !== 0) return false;
        off += ra.bytesRead;
      }
    } catch (err) {
      throw fromFsError(err, entryPath);
    } finally {
      await right.handle.close();
    }
  } finally {
    await left.handle.close();
  }
}

/**
 * Compares files of two layers the slow, safe way (the quick path is
 * comparePool.ts's, which leaves this the pairs it cannot answer). One per
 * comparison.
 */
export class ContentComparer {
  constructor(private readonly signal?: AbortSignal) {}

  /** Whether `entryPath` holds the same bytes in both layers. */
  async same(a: LayerContent, b: LayerContent, entryPath: string): Promise<boolean> {
    throwIfAborted(this.signal);
    if (a.tar || b.tar) return this.viaRead(a, b, entryPath);
    return streamedSame(a, b, entryPath, this.signal);
  }

  /** Either side in an image archive: both read in chunks (any size), side by side, stopping at the first difference. */
  private viaRead(a: LayerContent, b: LayerContent, entryPath: string): Promise<boolean> {
    return sameChunks(layerFileChunks(a, entryPath, this.signal), layerFileChunks(b, entryPath, this.signal));
  }
}
