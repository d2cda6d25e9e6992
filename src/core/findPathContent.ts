/**
 * Content search for the path search (`find --sha256 HEX`): the sha256 of a
 * layer's regular files, hashed lazily (only files the search reaches) and
 * cached per layer, so that a second search over the same store reads no file
 * whose size, mtime and inode have not changed.
 *
 * What it costs: a digest says nothing of the size, so every regular file the
 * search reaches is read whole once (a store's bytes, at disk speed); the
 * cache then holds ~150 bytes per file. `cost` counts files, bytes, time and
 * cache hits so that callers can say so.
 *
 * Reads only, never through a symlink: the file's folder must resolve
 * (realpath) to itself under the layer's folder, the file is opened with
 * O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, and the open file must be the inode that
 * was lstat()ed. A layer inside an image archive has no file to open: its
 * files' bytes are read from the blob (sha256InArchive).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LayerError, fromFsError, throwIfAborted } from './errors';
import { readLayerFile } from './layerFiles';
import type { LayerContent } from './model';

const CHUNK = 1024 * 1024;

export interface HashCost {
  /** Files read and hashed. */
  files: number;
  bytes: number;
  ms: number;
  /** Files answered from the cache. */
  cached: number;
}

interface Cached {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
}

/** `sha256:HEX` or `HEX` (64 hex digits) → lower-case hex; a string is why it is not a digest. */
export function parseSha256(text: string): string | { error: string } {
  const hex = text.trim().replace(/^sha256:/i, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : { error: `"${text}" is not a sha256 digest: give 64 hex digits (optionally after sha256:)` };
}

export class ContentHashes {
  private readonly layers = new Map<string, { real: string; files: Map<string, Cached>; folders: Map<string, boolean> }>();
  readonly cost: HashCost = { files: 0, bytes: 0, ms: 0, cached: 0 };

  /**
   * The sha256 (hex) of the regular file `imagePath` in the layer whose folder
   * is `layerDir`, given its lstat `st`. Throws LayerError when it cannot be read.
   */
  async sha256(layerKey: string, layerDir: string, imagePath: string, st: fs.Stats, signal?: AbortSignal): Promise<string> {
    const layer = this.layer(layerKey, layerDir);
    const hit = layer.files.get(imagePath);
    if (hit && hit.ino === st.ino && hit.size === st.size && hit.mtimeMs === st.mtimeMs) {
      this.cost.cached++;
      return hit.sha256;
    }
    const folder = path.posix.dirname(imagePath);
    let safe = layer.folders.get(folder);
    if (safe === undefined) {
      const real = safeRealpath(layerDir + folder);
      safe = real === (folder === '/' ? layer.real : layer.real + folder);
      layer.folders.set(folder, safe);
    }
    if (!safe) throw new LayerError('not-found', `${imagePath}: its folder goes through a symbolic link, which is not followed`, imagePath);
    const t0 = performance.now();
    const sha256 = await hashFile(layerDir + imagePath, imagePath, st, signal);
    this.cost.ms += performance.now() - t0;
    this.cost.files++;
    this.cost.bytes += st.size;
    layer.files.set(imagePath, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, sha256 });
    return sha256;
  }

  /**
   * The sha256 (hex) of the regular file `imagePath` of a layer inside an
   * image archive (`content.tar`), `size` bytes as its walk gave: read whole
   * from the blob (readLayerFile, nothing extracted), cached by size and mtime.
   */
  async sha256InArchive(layerKey: string, content: LayerContent, imagePath: string, size: number, mtimeMs: number, signal?: AbortSignal): Promise<string> {
    const layer = this.layer(layerKey, content.dir);
    const hit = layer.files.get(imagePath);
    if (hit && hit.size === size && hit.mtimeMs === mtimeMs) {
      this.cost.cached++;
      return hit.sha256;
    }
    const t0 = performance.now();
    const read = await readLayerFile(content, imagePath, { maxBytes: Number.MAX_SAFE_INTEGER, signal });
    if (read.kind !== 'file') throw new LayerError('unsupported', `${imagePath} is not a regular file of this layer`, imagePath);
    const sha256 = createHash('sha256').update(read.data).digest('hex');
    this.cost.ms += performance.now() - t0;
    this.cost.files++;
    this.cost.bytes += read.data.length;
    layer.files.set(imagePath, { ino: 0, size, mtimeMs, sha256 });
    return sha256;
  }

  private layer(key: string, dir: string) {
    let layer = this.layers.get(key);
    if (!layer) {
      layer = { real: safeRealpath(dir) ?? dir, files: new Map(), folders: new Map() };
      this.layers.set(key, layer);
    }
    return layer;
  }
}

function safeRealpath(p: string): string | undefined {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return undefined;
  }
}

async function hashFile(disk: string, imagePath: string, st: fs.Stats, signal?: AbortSignal): Promise<string> {
  const c = fs.constants;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(disk, c.O_RDONLY | (c.O_NOFOLLOW ?? 0) | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0));
  } catch (err) {
    throw fromFsError(err, imagePath);
  }
  try {
    const fst = await handle.stat();
    if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) throw new LayerError('io', `${imagePath} changed while it was opened: not read`, imagePath);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, fst.size)));
    for (;;) {
      throwIfAborted(signal);
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } catch (err) {
    throw fromFsError(err, imagePath);
  } finally {
    await handle.close();
  }
}
