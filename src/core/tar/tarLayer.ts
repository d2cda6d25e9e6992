/**
 * The tar branch of the layer functions (layerWalk, layerFiles, mergedPath
 * dispatch here for a LayerContent with `tar`): a layer's own entries, one
 * path's stat and bytes, a folder's listing, and the merged view over an
 * image's layers, all from the layers' indexes (layerIndex.ts), with the `.wh.`
 * rules every archive uses: a whiteout hides the copies below its layer, an
 * opaque folder hides what is below it, a non-folder hides everything under
 * its path. Nothing is extracted; a symlink is answered with its target, never
 * followed.
 */
import { LayerError, throwIfAborted } from '../errors';
import type { EntryType, LayerEntry, WalkOptions } from '../layerEntry';
import { childImagePath, deletedEntry, entryFromStats } from '../layerEntry';
import type { DirEntry, LayerPathStat } from '../layerFiles';
import { imagePath, throughSymlink } from '../layerFiles';
import type { LayerContent, TarLayer } from '../model';
import { implicitDir, readTarData, tarDataChunks, tarLayerIndex, type TarLayerIndex, type TarNode } from './layerIndex';

const ROOT: TarNode = implicitDir('/');

function tarOf(content: LayerContent): TarLayer {
  if (!content.tar) throw new LayerError('unsupported', `${content.dir} is not a layer inside an archive`, content.dir);
  return content.tar;
}

/** The layer's own index and its lowers' (nearest first). */
async function indexes(tar: TarLayer, signal?: AbortSignal): Promise<{ own: TarLayerIndex; lowers: TarLayerIndex[] }> {
  const own = await tarLayerIndex(tar.blob, signal);
  const lowers: TarLayerIndex[] = [];
  for (const b of tar.lowerBlobs) lowers.push(await tarLayerIndex(b, signal));
  return { own, lowers };
}

/** `/a/b/c` → `/a`, `/a/b`. */
function ancestorsOf(p: string): string[] {
  const out: string[] = [];
  for (let i = p.indexOf('/', 1); i > 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
}

/**
 * The entry visible at `p` over `layers` (top first) and the layer that holds
 * it; undefined when none does or it is hidden. `onSymlink` is called when the
 * topmost entry at an ancestor is a symlink (the path goes through it).
 */
export function visibleAt(
  layers: readonly TarLayerIndex[],
  p: string,
  onSymlink?: (at: number, target: string) => void,
): { node: TarNode; layer: number } | undefined {
  if (p === '/') return { node: ROOT, layer: 0 };
  const ancestors = ancestorsOf(p);
  /** Ancestors already seen as folders in an upper layer. */
  const seenDir = new Set<string>();
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    for (let k = 0; k < ancestors.length; k++) {
      const a = ancestors[k];
      const n = l.nodes.get(a);
      if (n && n.type !== 'dir') {
        if (n.type === 'symlink' && !seenDir.has(a)) onSymlink?.(k, n.target ?? '');
        return undefined;
      }
      if (n) seenDir.add(a);
    }
    const node = l.nodes.get(p);
    if (node) return { node, layer: i };
    // What this layer hides from the layers below it.
    if (l.whiteouts.has(p) || l.opaque.has('/')) return undefined;
    for (const a of ancestors) if (l.whiteouts.has(a) || l.opaque.has(a)) return undefined;
  }
  return undefined;
}

/** A folder being walked: its names, and the lowers (nearest first) in which it is visible. */
interface Frame {
  readonly dir: string;
  readonly names: string[];
  i: number;
  readonly lowers: readonly TarLayerIndex[];
}

/**
 * The lowers (nearest first) whose content shows under folder `dir`, given
 * those that show in its parent: a lower holding a non-folder there, or a
 * whiteout of it, hides itself and those below; an opaque folder hides those
 * below. Once per folder of the walk, so each entry asks only these.
 */
function lowersUnder(visible: readonly TarLayerIndex[], dir: string): TarLayerIndex[] {
  const out: TarLayerIndex[] = [];
  for (const l of visible) {
    const n = dir === '/' ? ROOT : l.nodes.get(dir);
    if (n && n.type !== 'dir') break;
    if (n) {
      out.push(l);
      // An entry beside its own whiteout hides the copies below, as an opaque folder does.
      if (l.opaque.has(dir) || l.whiteouts.has(dir)) break;
    } else if (l.whiteouts.has(dir)) break;
  }
  return out;
}

/** The entry the lowers show at `p` (a child of the folder they were computed for). */
function lowerAt(lowers: readonly TarLayerIndex[], p: string): TarNode | undefined {
  for (const l of lowers) {
    const n = l.nodes.get(p);
    if (n) return n;
    if (l.whiteouts.has(p)) return undefined;
  }
  return undefined;
}

/** A layer's own entries, depth first, names sorted, a folder before its children (as the folder walk). */
export async function* walkTar(content: LayerContent, options: WalkOptions = {}): AsyncGenerator<LayerEntry> {
  const { signal, onProblem } = options;
  throwIfAborted(signal);
  const { own, lowers } = await indexes(tarOf(content), signal);
  for (const p of own.problems) onProblem?.(p);
  for (const l of lowers) for (const p of l.problems) if (p.path === '/') onProblem?.({ ...p, message: `a layer below: ${p.message}` });
  if (own.opaque.has('/') && lowers.length > 0) yield entryFromStats('/', 'opaque', ROOT);
  const stack: Frame[] = [{ dir: '/', names: own.children('/'), i: 0, lowers: lowersUnder(lowers, '/') }];
  let count = 0;
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.i >= top.names.length) {
      stack.pop();
      continue;
    }
    if ((++count & 1023) === 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfAborted(signal);
    }
    const p = childImagePath(top.dir, top.names[top.i++]);
    const node = own.nodes.get(p);
    const below = lowerAt(top.lowers, p);
    if (!node) {
      yield deletedEntry(p, below?.type);
      continue;
    }
    const status = below ? 'modified' : 'added';
    if (node.type === 'dir') {
      yield entryFromStats(p, own.opaque.has(p) && below?.type === 'dir' ? 'opaque' : status, node);
      stack.push({ dir: p, names: own.children(p), i: 0, lowers: below?.type === 'dir' ? lowersUnder(top.lowers, p) : [] });
    } else {
      yield entryFromStats(p, status, node, node.type === 'symlink' ? node.target ?? '' : undefined);
    }
  }
}

/** The paths of a tar layer that are hard links to another member (their headers say 0 bytes). */
export async function tarHardlinks(content: LayerContent, signal?: AbortSignal): Promise<ReadonlySet<string>> {
  const { own } = await indexes(tarOf(content), signal);
  const links = new Set<string>();
  for (const [p, n] of own.nodes) if (n.hardlink) links.add(p);
  return links;
}

function toStat(p: string, file: string, node: TarNode | undefined, deleted: boolean): LayerPathStat {
  const t = node?.mtimeMs ?? 0;
  const stat = {
    path: p,
    diskPath: file,
    type: (node?.type ?? 'file') as EntryType,
    deleted,
    size: node?.size ?? 0,
    mode: node?.mode ?? 0o100000,
    mtimeMs: t,
    ctimeMs: t,
    birthtimeMs: t,
  };
  return node?.target === undefined ? stat : { ...stat, target: node.target };
}

/**
 * One path in the layer alone, as layerFiles' resolveIn answers for a folder:
 * found, deleted here (a whiteout at it or at a folder above it, with the
 * depth), or absent. Throws when the path goes through a symlink of the layer.
 */
export async function statTar(
  content: LayerContent,
  segs: readonly string[],
  signal?: AbortSignal,
): Promise<{ kind: 'found'; stat: LayerPathStat } | { kind: 'deleted'; stat: LayerPathStat; depth: number } | { kind: 'absent'; depth: number }> {
  const tar = tarOf(content);
  const own = await tarLayerIndex(tar.blob, signal);
  const p = imagePath(segs);
  if (segs.length === 0) return { kind: 'found', stat: toStat('/', tar.blob.file, ROOT, false) };
  for (let k = 0; k < segs.length - 1; k++) {
    const a = imagePath(segs, k + 1);
    const n = own.nodes.get(a);
    if (n?.type === 'symlink') throw throughSymlink(segs, k, n.target ?? '');
    if (n && n.type !== 'dir') return { kind: 'absent', depth: k };
    if (!n && own.whiteouts.has(a)) return { kind: 'deleted', stat: toStat(p, tar.blob.file, undefined, true), depth: k };
    if (!n) return { kind: 'absent', depth: k };
  }
  const node = own.nodes.get(p);
  if (node) return { kind: 'found', stat: toStat(p, tar.blob.file, node, false) };
  if (own.whiteouts.has(p)) return { kind: 'deleted', stat: toStat(p, tar.blob.file, undefined, true), depth: segs.length - 1 };
  return { kind: 'absent', depth: segs.length - 1 };
}

/** A regular file's bytes (its size already checked by the caller). */
export async function readTarFile(content: LayerContent, p: string, signal?: AbortSignal): Promise<Uint8Array> {
  const own = await tarLayerIndex(tarOf(content).blob, signal);
  const node = own.nodes.get(p);
  if (!node || node.type !== 'file') throw new LayerError('not-found', `${p} is not a regular file of this layer`, p);
  return readTarData(own, node, signal);
}

/** A regular file's bytes in chunks (tarDataChunks): for files of any size. */
export async function* readTarFileChunks(content: LayerContent, p: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const own = await tarLayerIndex(tarOf(content).blob, signal);
  const node = own.nodes.get(p);
  if (!node || node.type !== 'file') throw new LayerError('not-found', `${p} is not a regular file of this layer`, p);
  yield* tarDataChunks(own, node, signal);
}

/** A folder of the layer alone: its names, whiteouts as `deleted`. */
export async function listTar(content: LayerContent, p: string, layerIndex: number, signal?: AbortSignal): Promise<(DirEntry & { deleted: boolean })[]> {
  const own = await tarLayerIndex(tarOf(content).blob, signal);
  return own.children(p).map((name) => {
    const node = own.nodes.get(childImagePath(p, name));
    return node ? { name, type: node.type, layerIndex, deleted: false } : { name, type: 'unknown' as EntryType, layerIndex, deleted: true };
  });
}

async function all(layers: readonly LayerContent[], signal?: AbortSignal): Promise<TarLayerIndex[]> {
  const out: TarLayerIndex[] = [];
  for (const c of layers) out.push(await tarLayerIndex(tarOf(c).blob, signal));
  return out;
}

/** Which layer (top first) provides `p` in the merged view, with its stat; throws when the path goes through a symlink. */
export async function resolveMergedTar(
  layers: readonly LayerContent[],
  segs: readonly string[],
  signal?: AbortSignal,
): Promise<{ layerIndex: number; stat: LayerPathStat } | undefined> {
  const idx = await all(layers, signal);
  const p = imagePath(segs);
  const hit = visibleAt(idx, p, (k, target) => {
    throw throughSymlink(segs, k, target);
  });
  return hit && { layerIndex: hit.layer, stat: toStat(p, idx[hit.layer].blob.file, hit.node, false) };
}

/** The merged view's listing of a folder: each visible name once, with the layer it comes from. */
export async function listMergedTar(layers: readonly LayerContent[], segs: readonly string[], signal?: AbortSignal): Promise<DirEntry[]> {
  const idx = await all(layers, signal);
  const p = imagePath(segs);
  const self = visibleAt(idx, p, (k, target) => {
    throw throughSymlink(segs, k, target);
  });
  if (!self) throw new LayerError('not-found', `${p} does not exist in the merged view`, p);
  if (self.node.type !== 'dir') throw new LayerError('not-found', `${p} is not a folder`, p);
  const names = new Set<string>();
  for (const l of idx) for (const n of l.children(p)) names.add(n);
  const out: DirEntry[] = [];
  for (const name of [...names].sort()) {
    const hit = visibleAt(idx, childImagePath(p, name));
    if (hit) out.push({ name, type: hit.node.type, layerIndex: hit.layer });
  }
  return out;
}
