/**
 * Images of a containerd store whose meta.db cannot name them (its images
 * bucket, the namespace or the whole file is corrupt), found in the content
 * store instead: every small blob of `io.containerd.content.v1.content/blobs/sha256/`
 * that is an image manifest or index (by its mediaType, or its shape), less
 * those an index refers to, is the target of one image. Its names were in
 * meta.db only and are lost; everything else (config, layers, snapshots) is
 * read from the target as usual.
 *
 * What this cannot tell apart: a manifest left behind by an image that was
 * deleted and not yet garbage-collected lists as an image too; and the
 * content store is shared by every namespace, so with meta.db's content
 * records readable only blobs the namespace owns are considered, but without
 * them each namespace detected (see detectContainerd) lists every image found.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { mapLimit } from '../concurrency';
import { fromFsError, throwIfAborted } from '../errors';
import { isHex64, listDir } from '../fsUtil';
import type { Problem } from '../model';
import { manifestKind } from './containerdContent';
import { BLOBS_DIR, type Descriptor, type MetaSection } from './containerdMeta';

/**
 * Manifests and indexes are a few kB; a blob past this is a layer or a config,
 * never read. (The reader reads a target of up to 32 MiB once it is named.)
 */
const MAX_SCANNED = 1024 * 1024;
/** Blobs looked at in parallel. */
const PARALLEL = 8;

export interface RecoveredTargets {
  /** Top-level manifests and indexes, by digest. */
  readonly targets: Descriptor[];
  /** Blobs that could not be looked at (their names stay in the store, unread). */
  readonly problems: Problem[];
}

interface Scanned {
  readonly target?: Descriptor;
  /** Digests an index refers to: its manifests are not images of their own. */
  readonly refers: string[];
  readonly problem?: Problem;
}

/**
 * The targets of the store's images, from its blobs alone. `owned`, when
 * meta.db's content records could be read, limits the scan to the namespace's
 * blobs. A blob name that is not 64 hex digits never becomes a path.
 */
export async function recoverTargets(dir: string, owned: ReadonlySet<string> | undefined, signal?: AbortSignal): Promise<RecoveredTargets> {
  const blobs = path.join(dir, BLOBS_DIR);
  const names = (await listDir(blobs)).filter((n) => isHex64(n) && (!owned || owned.has(`sha256:${n}`)));
  const scanned = await mapLimit(names, PARALLEL, (hex) => scanBlob(blobs, hex, signal), signal);
  throwIfAborted(signal);
  const referred = new Set(scanned.flatMap((s) => s.refers));
  return {
    targets: scanned.flatMap((s) => (s.target && !referred.has(s.target.digest) ? [s.target] : [])),
    problems: scanned.flatMap((s) => (s.problem ? [s.problem] : [])),
  };
}

/**
 * A blob's bytes when it is a regular file of 2 to MAX_SCANNED bytes, else
 * undefined: opened without following a symlink or waiting on a FIFO, its type
 * and size taken from the open file (what was listed may have been swapped),
 * and never more than its size + 1 bytes read.
 */
async function readSmallBlob(file: string): Promise<Buffer | undefined> {
  const c = fs.constants;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fsp.open(file, c.O_RDONLY | (c.O_NOFOLLOW ?? 0) | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0));
  } catch (err) {
    // A symlink (O_NOFOLLOW refuses it): not a blob, skipped as any other non-file.
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return undefined;
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > MAX_SCANNED || stat.size < 2) return undefined;
    // One byte more than its size: a blob that grew while read is not taken.
    const buf = Buffer.alloc(stat.size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      got += bytesRead;
      if (bytesRead === 0 || got === buf.length) break;
    }
    return got > stat.size ? undefined : buf.subarray(0, got);
  } finally {
    await handle.close();
  }
}

/** One blob: a manifest or index target, or nothing (a layer, a config, anything else). */
async function scanBlob(blobs: string, hex: string, signal?: AbortSignal): Promise<Scanned> {
  throwIfAborted(signal);
  const file = path.join(blobs, hex);
  let bytes: Buffer;
  try {
    const read = await readSmallBlob(file);
    if (!read) return { refers: [] };
    bytes = read;
  } catch (err) {
    const e = fromFsError(err, file);
    return { refers: [], problem: { code: e.code, message: `content store blob ${hex} cannot be read: ${e.message}`, path: file, subject: `sha256:${hex}` } };
  }
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (first !== 0x7b /* { */) return { refers: [] };
  // Only an index lists "manifests", only a manifest "layers": the many configs are not parsed.
  const text = bytes.toString('utf8');
  if (!text.includes('"manifests"') && !text.includes('"layers"')) return { refers: [] };
  let value: any;
  try {
    value = JSON.parse(text);
  } catch {
    return { refers: [] }; // not JSON: a small layer that happens to start with "{", or a damaged blob nobody names
  }
  const mediaType = typeof value?.mediaType === 'string' ? value.mediaType : '';
  const kind = manifestKind(mediaType, value);
  if (!kind) return { refers: [] };
  const target: Descriptor = { digest: `sha256:${hex}`, mediaType, size: bytes.length };
  const refers = kind === 'index' && Array.isArray(value.manifests) ? value.manifests.flatMap((d: { digest?: unknown }) => (typeof d?.digest === 'string' ? [d.digest] : [])) : [];
  return { target, refers };
}

/**
 * One problem that says what a damaged meta.db took from the namespace and
 * where the reader found it instead, or that it is not shown.
 */
export function lostProblem(file: string, namespace: string, snapshotter: string, lost: ReadonlyMap<MetaSection, string>, recovered: number): Problem {
  const what: Record<MetaSection, string> = {
    images: `image names (${recovered} image${recovered === 1 ? '' : 's'} listed from the content store instead, unnamed)`,
    snapshots: `snapshot keys (read from the ${snapshotter} snapshotter's metadata.db instead)`,
    containers: 'containers (not listed: only meta.db records them)',
    'content sizes': "content records (layer sizes come from the snapshotter's usage or the blobs)",
  };
  const parts = [...lost.keys()].map((section) => what[section]);
  const first = lost.values().next().value;
  return {
    code: 'corrupt',
    message: `${file} is corrupt (${first}); lost from namespace ${namespace}: ${parts.join('; ')}`,
    path: file,
    subject: 'meta.db',
  };
}
