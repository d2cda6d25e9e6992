/**
 * Which layer provides a path in an image's merged view, and the merged
 * listing of a folder (single-layer safe reads are layerFiles.ts).
 *
 * The merged view follows the walk's rules (lowerUnion.ts): top layer first, a
 * whiteout hides the copies below it, an opaque folder (aufs `.wh..wh..opq`,
 * overlay `trusted.overlay.opaque` read with getfattr) hides the content below
 * it, a non-folder hides everything below its path. A snapshot layer (vfs,
 * btrfs, zfs) holds the whole filesystem: it answers for itself and below.
 */
import * as fs from 'node:fs';
import { diskPath } from './byteNames';
import { LayerError, throwIfAborted } from './errors';
import type { EntryType } from './layerEntry';
import { typeOfMode } from './layerEntry';
import {
  imagePath,
  isOverlayWhiteout,
  layerPathSegments,
  layerRoot,
  listOne,
  lstatOrNone,
  readlinkOr,
  resolveIn,
  throughSymlink,
  toStat,
  type DirEntry,
  type LayerPathStat,
} from './layerFiles';
import { AUFS_OPAQUE, AUFS_PREFIX, aufsKind } from './lowerUnion';
import type { LayerContent } from './model';
import { OpaqueProbe } from './opaque';
import { listMergedTar, resolveMergedTar } from './tar/tarLayer';

interface MergedHit {
  readonly layerIndex: number;
  readonly disk: string;
  readonly st: fs.Stats;
}

/**
 * The layers that hold `segs` in the merged view, top first: the first only,
 * or (`all`, for a folder listing) every folder copy down to the first that
 * hides the rest.
 */
async function locateMerged(layers: readonly LayerContent[], segs: readonly string[], all: boolean, signal?: AbortSignal): Promise<MergedHit[]> {
  const hits: MergedHit[] = [];
  /** Type of the topmost entry at each ancestor depth. */
  const topType: (EntryType | undefined)[] = [];
  for (let i = 0; i < layers.length; i++) {
    const c = layers[i];
    const last = i === layers.length - 1;
    if (c.form === 'snapshot') {
      const r = await resolveIn(c, segs, signal);
      if (r.kind === 'found' && (hits.length === 0 || r.st.isDirectory())) hits.push({ layerIndex: i, disk: r.disk, st: r.st });
      return hits;
    }
    await layerRoot(c);
    let dir = c.dir;
    const dirs = [c.dir];
    let cut = false;
    for (let k = 0; k <= segs.length; k++) {
      throwIfAborted(signal);
      if (k === segs.length) {
        // segs is empty (the root): the layer's folder itself.
        if (hits.length === 0 || all) hits.push({ layerIndex: i, disk: c.dir, st: await layerRoot(c) });
        if (!all) return hits;
        break;
      }
      const name = segs[k];
      if (c.whiteouts === 'aufs' && aufsKind(name) !== 'content') return hits; // bookkeeping is never visible
      const disk = dir + '/' + name;
      const st = await lstatOrNone(disk, segs, k);
      if (c.whiteouts === 'aufs' && !last && (await lstatOrNone(dir + '/' + AUFS_PREFIX + name, segs, k))) {
        if (!st) return hits; // deleted here: hidden below
        cut = true; // an entry and its whiteout in one layer: the entry shows, lower copies do not
      }
      if (!st) break;
      if (isOverlayWhiteout(c, st)) return hits;
      const type = typeOfMode(st.mode);
      if (k === segs.length - 1) {
        if (hits.length > 0 && type !== 'dir') return hits; // a lower non-folder under a folder: hidden
        hits.push({ layerIndex: i, disk, st });
        if (!all || type !== 'dir') return hits;
        dirs.push(disk);
        break;
      }
      if (topType[k] === undefined) {
        topType[k] = type;
        if (type === 'symlink') throw throughSymlink(segs, k, await readlinkOr(disk));
        if (type !== 'dir') return hits;
      } else if (type !== 'dir') {
        return hits; // a folder above hides this non-folder and all below
      }
      dirs.push(disk);
      dir = disk;
    }
    if (last || cut || (await anyOpaque(c, dirs, signal))) return hits;
  }
  return hits;
}

async function anyOpaque(c: LayerContent, dirs: readonly string[], signal?: AbortSignal): Promise<boolean> {
  if (c.whiteouts === 'aufs') {
    for (const d of dirs) if (await fs.promises.lstat(diskPath(d + '/' + AUFS_OPAQUE)).then(() => true, () => false)) return true;
    return false;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    // Unknown (no getfattr, no right to read trusted.* xattrs) counts as not opaque.
    const answers = await new OpaqueProbe(c.dir, controller.signal, () => undefined).ask(dirs);
    return [...answers.values()].some((a) => a === true);
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

/** moby's statDifferent: the same entry in two snapshots. */
function sameEntry(a: fs.Stats, b: fs.Stats): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.rdev !== b.rdev) return false;
  return a.isDirectory() || (a.size === b.size && Math.floor(a.mtimeMs) === Math.floor(b.mtimeMs));
}

/**
 * Which layer provides `entryPath` in the merged view of `layers` (top first),
 * with its stat; undefined when the path does not exist there (never existed,
 * deleted by a whiteout, hidden by an opaque folder or a non-folder above).
 * In a stack of snapshots, the lowest layer whose copy is unchanged up to the
 * top is the one that provides it. Throws when the visible path goes through
 * a symlink.
 */
export async function resolveMerged(
  layers: readonly LayerContent[],
  entryPath: string,
  options: { signal?: AbortSignal } = {},
): Promise<{ layerIndex: number; stat: LayerPathStat } | undefined> {
  const segs = layerPathSegments(entryPath);
  if (layers[0]?.tar) return resolveMergedTar(layers, segs, options.signal);
  const [hit] = await locateMerged(layers, segs, false, options.signal);
  if (!hit) return undefined;
  let { layerIndex, disk, st } = hit;
  while (layers[layerIndex].form === 'snapshot' && layerIndex + 1 < layers.length && layers[layerIndex + 1].form === 'snapshot') {
    const r = await resolveIn(layers[layerIndex + 1], segs, options.signal).catch(() => undefined);
    if (r?.kind !== 'found' || !sameEntry(r.st, st)) break;
    if (st.isSymbolicLink() && (await readlinkOr(r.disk)) !== (await readlinkOr(disk))) break;
    ({ disk, st } = r);
    layerIndex++;
  }
  const target = st.isSymbolicLink() ? await readlinkOr(disk) : undefined;
  return { layerIndex, stat: toStat(segs, disk, st, false, target) };
}

/** The merged view's listing of a folder: each visible name once, with the layer it comes from. */
export async function listMergedDir(layers: readonly LayerContent[], entryPath: string, options: { signal?: AbortSignal } = {}): Promise<DirEntry[]> {
  const segs = layerPathSegments(entryPath);
  if (layers[0]?.tar) return listMergedTar(layers, segs, options.signal);
  const hits = await locateMerged(layers, segs, true, options.signal);
  if (hits.length === 0) throw new LayerError('not-found', `${imagePath(segs)} does not exist in the merged view`, imagePath(segs));
  if (!hits[0].st.isDirectory()) throw new LayerError('not-found', `${imagePath(segs)} is not a folder`, imagePath(segs));
  const seen = new Map<string, DirEntry>();
  const hidden = new Set<string>();
  for (const hit of hits) {
    const { entries } = await listOne(layers[hit.layerIndex], hit.disk, imagePath(segs), hit.layerIndex);
    for (const e of entries) if (!e.deleted && !seen.has(e.name) && !hidden.has(e.name)) seen.set(e.name, { name: e.name, type: e.type, layerIndex: e.layerIndex });
    // A layer's whiteouts hide the layers below it, not its own entries.
    for (const e of entries) if (e.deleted) hidden.add(e.name);
  }
  return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
