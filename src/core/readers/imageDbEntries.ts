/**
 * What the image-db reader (imageDb.ts) reads in its time slices: one image
 * config (`imagedb/content/sha256/<id>`, with its parent link and chain ids)
 * and one layerdb entry (`layerdb/sha256/<chain id>`: size, cache-id, diff,
 * parent), each synchronously, problems kept beside the result.
 */
import { isUtf8 } from 'node:buffer';
import * as path from 'node:path';
import { LayerError, toProblem } from '../errors';
import { childPath, digestHex, isHex64, parseJson, readBytesShared, readOptionalSync } from '../fsUtil';
import type { Layer, LayerContent, Problem, Source } from '../model';
import { driverContent } from './driverContent';
import { sha256Hex, type ImageConfig } from './imageConfig';
import { smallFileText, type LayerdbFiles } from './layerdbFiles';

/** An image config as read (step 1 of a load). */
export interface ReadImage {
  readonly id: string;
  readonly problems: Problem[];
  /** The config could not be read or parsed (the problem says why). */
  readonly broken: boolean;
  readonly parentId?: string;
  /** The parts of the config the image is made from. */
  readonly config?: Pick<ImageConfig, 'created' | 'os' | 'architecture' | 'variant' | 'history'>;
  /** Its layers' chains, bottom first (none when a diff id is not a digest). */
  readonly chain: ChainNode[];
}

/** A chain in the tree of the chains of one load: its chain id, its top diff id, and its layer once read. */
export interface ChainNode {
  readonly chainId: string;
  readonly diffId: string;
  /** The chains one layer higher, by their top diff id. */
  above?: Map<string, ChainNode>;
  layer?: Layer;
}

/**
 * The chains of one load's images as a tree: images over a shared base share its
 * nodes, so each chain id is hashed once and each step up is one lookup.
 */
export class ChainTree {
  /** Base layers, by diff id (a base layer's chain id is its diff id). */
  private readonly bases = new Map<string, ChainNode>();

  /**
   * The chains of `diffIds`, bottom first: chain(0) = diffID(0),
   * chain(n) = sha256(chain(n-1) + " " + diffID(n)). Throws invalid-id at the
   * first diff id that is not a sha256 digest (the tree holds checked ones only).
   */
  chain(diffIds: readonly string[]): ChainNode[] {
    const out: ChainNode[] = [];
    let below: ChainNode | undefined;
    for (const diffId of diffIds) {
      const level = below ? (below.above ??= new Map()) : this.bases;
      let node = level.get(diffId);
      if (!node) {
        digestHex(diffId, 'diff id');
        node = { chainId: below ? 'sha256:' + sha256Hex(`${below.chainId} ${diffId}`) : diffId, diffId, above: undefined, layer: undefined };
        level.set(diffId, node);
      }
      out.push(node);
      below = node;
    }
    return out;
  }
}

/** What the images of one load share. */
export interface LoadContext {
  readonly layerdb: string;
  /** `size` and `cache-id` of every layer layerdb lists. */
  readonly files: LayerdbFiles;
  /** Layers read so far, by chain id, in the order they were read. */
  readonly layers: Map<string, Layer>;
}

/** A layer's folder in layerdb (not `tmp`, not one being removed). */
export function isLayerDir(name: string): boolean {
  return !name.endsWith('-removing') && name !== 'tmp' && isHex64(name);
}

/** An image's config file read and checked, with what its image needs (`broken` when it cannot be read or parsed). */
export function readImage(
  hex: string,
  contentDir: string,
  metaDir: string,
  withMeta: Set<string> | undefined,
  chains: ChainTree,
  configs: Map<string, string>,
): ReadImage {
  const file = contentDir + path.sep + hex; // path.join(contentDir, hex): hex is 64 hex digits
  const id = 'sha256:' + hex;
  const problems: Problem[] = [];
  let bytes: Buffer;
  let text: string;
  let config: ImageConfig;
  let parentId: string | undefined;
  try {
    bytes = readBytesShared(file);
    text = bytes.toString('utf8');
    config = parseJson<ImageConfig>(text, file);
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new LayerError('corrupt', `${file} is not a JSON object`, file);
    const parentText = withMeta && !withMeta.has(hex) ? undefined : readOptionalSync(path.join(metaDir, hex, 'parent'));
    parentId = parentText || undefined;
  } catch (err) {
    problems.push(toProblem(err, id));
    return { id, problems, broken: true, chain: [] };
  }
  configs.set(id, file);
  // The digest of the text's UTF-8 bytes: the file's own bytes when they are valid UTF-8 (no re-encoding).
  if (sha256Hex(bytes) !== hex || !isUtf8(bytes)) {
    problems.push({ code: 'corrupt', message: `${file}: content does not match its digest`, path: file, subject: id });
  }
  const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs!.diff_ids!.map(String) : [];
  let chain: ChainNode[] = [];
  try {
    chain = chains.chain(diffIds);
  } catch (err) {
    // The chain's own error names the bad diff id; say which image lists it.
    const p = toProblem(err, id);
    problems.push({ ...p, message: `image ${id}: ${p.message}`, path: file });
  }
  // Only what the image needs: the parsed Env, Labels… of its runtime config are left to the GC.
  const { created, os, architecture, variant, history } = config;
  return { id, problems, broken: false, parentId, config: { created, os, architecture, variant, history }, chain };
}

/**
 * Reads one layerdb entry; problems stay on the layer. `lower` is the layer
 * below in the image that names it (undefined for a base layer or a layer no
 * image names: then `parent` is read from layerdb); `diffId` is '' when no
 * image names it (then `diff` is read).
 */
export function readLayer(source: Source, ctx: LoadContext, chainId: string, diffId: string, lower: Layer | undefined): Layer {
  const { layerdb } = ctx;
  const key = `${source.key}/${chainId}`;
  const problems: Problem[] = [];
  let dir: string | undefined;
  const dirOf = () => {
    const hex = chainId.slice(7);
    return (dir ??= isHex64(hex) ? layerdb + path.sep + hex : childPath(layerdb, hex));
  };
  let size = 0;
  let content: LayerContent | undefined;
  let parentId = lower?.id;
  try {
    // Read with the others when layerdb lists the layer; here otherwise (missing: not found).
    const at = ctx.files.indexOf(chainId);
    const sizeText = at >= 0 ? smallFileText(ctx.files.size(at)) : readOptionalSync(dirOf() + path.sep + 'size');
    const cacheId = at >= 0 ? smallFileText(ctx.files.cacheId(at)) : readOptionalSync(dirOf() + path.sep + 'cache-id');
    const diffText = diffId ? undefined : readOptionalSync(dirOf() + path.sep + 'diff');
    const parentText = lower ? undefined : readOptionalSync(dirOf() + path.sep + 'parent');
    if (diffText) diffId = diffText;
    if (parentText) parentId = parentText;
    if (cacheId === undefined) {
      problems.push({ code: 'not-found', message: `layer ${chainId} is missing from ${layerdb}`, path: dirOf(), subject: chainId });
    } else {
      const sizeOk = sizeText !== undefined && /^\d+$/.test(sizeText);
      size = sizeOk ? Number(sizeText) : 0;
      if (sizeText !== undefined && !sizeOk) {
        problems.push({ code: 'corrupt', message: `${path.join(dirOf(), 'size')}: not a number`, path: dirOf(), subject: chainId });
      }
      content = driverContent(source.root, source.driver, cacheId, lower?.content);
    }
  } catch (err) {
    // E.g. a cache-id that is not a folder name: say which layer has it.
    const p = toProblem(err, chainId);
    problems.push({ ...p, message: `layer ${chainId}: ${p.message}` });
  }
  return {
    key,
    id: chainId,
    source,
    diffId: diffId || undefined,
    // The layer below's own key when it is the parent (the same text, one string fewer per layer).
    parentKey: parentId ? (lower && parentId === lower.id ? lower.key : `${source.key}/${parentId}`) : undefined,
    parentId,
    size,
    empty: false,
    content,
    problems,
  };
}
