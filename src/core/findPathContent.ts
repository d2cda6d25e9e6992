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
 * Reads only, never through a symlink: the file is resolved component by
 * component without following one (compareContent.ts layerFileChunks, no folder
 * check cached between searches), opened O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
 * and the open file must be the inode that was lstat()ed. A layer inside an image archive has no file to open: its
 * files' bytes are read from the blob (sha256InArchive).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { layerFileChunks } from './compareContent';
import type { LayerContent } from './model';

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
  private readonly layers = new Map<string, { files: Map<string, Cached> }>();
  readonly cost: HashCost = { files: 0, bytes: 0, ms: 0, cached: 0 };

  /**
   * The sha256 (hex) of the regular file `imagePath` of the folder layer
   * `content`, given its lstat `st`. Throws LayerError when it cannot be read.
   */
  async sha256(layerKey: string, content: LayerContent, imagePath: string, st: fs.Stats, signal?: AbortSignal): Promise<string> {
    const layer = this.layer(layerKey);
    const hit = layer.files.get(imagePath);
    if (hit && hit.ino === st.ino && hit.size === st.size && hit.mtimeMs === st.mtimeMs) {
      this.cost.cached++;
      return hit.sha256;
    }
    const t0 = performance.now();
    const { sha256 } = await hashLayerFile(content, imagePath, st, signal);
    this.cost.ms += performance.now() - t0;
    this.cost.files++;
    this.cost.bytes += st.size;
    layer.files.set(imagePath, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, sha256 });
    return sha256;
  }

  /**
   * The sha256 (hex) of the regular file `imagePath` of a layer inside an
   * image archive (`content.tar`), `size` bytes as its walk gave: read whole
   * from the blob (in chunks, nothing extracted), cached by size and mtime.
   */
  async sha256InArchive(layerKey: string, content: LayerContent, imagePath: string, size: number, mtimeMs: number, signal?: AbortSignal): Promise<string> {
    const layer = this.layer(layerKey);
    const hit = layer.files.get(imagePath);
    if (hit && hit.size === size && hit.mtimeMs === mtimeMs) {
      this.cost.cached++;
      return hit.sha256;
    }
    const t0 = performance.now();
    const { sha256, bytes } = await hashLayerFile(content, imagePath, undefined, signal);
    this.cost.ms += performance.now() - t0;
    this.cost.files++;
    this.cost.bytes += bytes;
    layer.files.set(imagePath, { ino: 0, size, mtimeMs, sha256 });
    return sha256;
  }

  private layer(key: string) {
    let layer = this.layers.get(key);
    if (!layer) {
      layer = { files: new Map() };
      this.layers.set(key, layer);
    }
    return layer;
  }
}

/**
 * The sha256 (hex) of one regular file of a layer, read exactly as a content
 * search reads it (never through a symlink; from the blob for an archive
 * layer): the digest "Find Files with the Same Content" then searches for.
 * Throws LayerError (`unsupported` for anything but a regular file).
 */
export async function layerFileSha256(content: LayerContent, imagePath: string, signal?: AbortSignal): Promise<string> {
  return (await hashLayerFile(content, imagePath, undefined, signal)).sha256;
}

/**
 * The digest of one regular file of a layer and its byte count, streamed
 * through layerFileChunks: from the blob for an archive layer (nothing
 * extracted, any size); on disk resolved component by component without
 * following a symlink (nothing about its folders is cached, so a folder
 * swapped for a symlink since an earlier search is refused), opened O_NOFOLLOW
 * and checked to be the inode resolved, and the one lstat()ed as `st` when the
 * caller has one.
 */
async function hashLayerFile(content: LayerContent, imagePath: string, st: fs.Stats | undefined, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of layerFileChunks(content, imagePath, signal, st)) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
