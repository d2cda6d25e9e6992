/**
 * The content-addressed layout of Docker 1.10 – 28: `image/<driver>/imagedb`
 * (image configs by digest), `layerdb` (layers by chain id) and
 * `repositories.json` (tags), with layer content in the driver's folders.
 */
import { isUtf8 } from 'node:buffer';
import * as path from 'node:path';
import { Pacer } from '../concurrency';
import { LayerError, throwIfAborted, toProblem } from '../errors';
import { childPath, digestHex, isHex64, listDir, parseJson, readBytesShared, readJson, readOptionalSync, readText } from '../fsUtil';
import type { Image, Layer, LayerContent, LayerDocument, LayoutReader, Problem, Source, SourceContents, Step } from '../model';
import { readContainers } from './containers';
import { driverContent } from './driverContent';
import { alignSteps, sha256Hex, v1CompatDocument, type ImageConfig } from './imageConfig';
import { FilesWorker, LayerdbFiles, layerdbFilesOptions, smallFileText } from './layerdbFiles';

/** An image config as read (step 1 of a load). */
interface ReadImage {
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
interface ChainNode {
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
class ChainTree {
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
interface LoadContext {
  readonly layerdb: string;
  /** `size` and `cache-id` of every layer layerdb lists. */
  readonly files: LayerdbFiles;
  /** Layers read so far, by chain id, in the order they were read. */
  readonly layers: Map<string, Layer>;
}

/** A layer's folder in layerdb (not `tmp`, not one being removed). */
function isLayerDir(name: string): boolean {
  return !name.endsWith('-removing') && name !== 'tmp' && isHex64(name);
}

export class ImageDbReader implements LayoutReader {
  /**
   * The config file of each image whose config loaded. Documents read it again
   * when asked for (as the legacy reader does its `json`): a config is named by
   * its digest, so its bytes do not change, and the store does not hold
   * megabytes of JSON text that only the few documents a user opens need.
   */
  private configs = new Map<string, string>();
  /** The config parsed last (a view asks for several steps of one image in a row). */
  private parsed?: { id: string; config: ImageConfig };

  constructor(readonly source: Source) {}

  private get imagedb(): string {
    return path.join(this.source.dir, 'imagedb');
  }

  /**
   * Reads every image config and the layers they name. The thousands of tiny
   * files (configs, layerdb `size` / `cache-id`) are read synchronously in time
   * slices (Pacer): a promise per file cost ten times the reads themselves.
   * layerdb's files are read in the meantime by a worker thread when there are
   * many (LayerdbFiles), while this thread parses the configs.
   */
  async load(signal?: AbortSignal): Promise<SourceContents> {
    const { source } = this;
    const problems: Problem[] = [];
    const contentDir = path.join(this.imagedb, 'content', 'sha256');
    const metaDir = path.join(this.imagedb, 'metadata', 'sha256');
    const layerdb = path.join(source.dir, 'layerdb', 'sha256');
    // layerdb's listing (thousands of names) and its files are read while this thread reads the
    // configs: LayerdbFiles starts (and with it, for a big layerdb, its worker) once the listing is in.
    // Unlistable: read layer by layer, and fail as before when listing it for orphans at the end.
    const listed = listDir(layerdb).then(
      (all) => all.filter(isLayerDir),
      () => undefined,
    );
    const configNames = listDir(contentDir);
    // Many images mean many layers: start the worker while layerdb is still being listed.
    let early: FilesWorker | undefined;
    let ended = false;
    let made = false;
    configNames.then(
      (n) => {
        if (!ended && !made && n.length >= layerdbFilesOptions.workerMinLayers / 8) early = FilesWorker.start();
      },
      () => undefined,
    );
    const started = listed.then((hexes) => {
      made = true;
      if (!ended) return new LayerdbFiles(layerdb, hexes ?? [], early);
      early?.stop();
      return undefined;
    });
    try {
      // Tags are read meanwhile; only the images (step 3) need them.
      const tagProblems: Problem[] = [];
      const tagsRead = this.readTags(tagProblems);
      tagsRead.catch(() => undefined); // awaited below; never left unhandled if the load stops first
      const [names, withMeta] = await Promise.all([
        configNames,
        // Parent links (`metadata/sha256/<id>/parent`) exist for local builds only: list
        // them once rather than try a read per image. Unlistable: try each, as before.
        listDir(metaDir).then(
          (n) => new Set(n),
          () => undefined,
        ),
      ]);
      throwIfAborted(signal);
      const pace = new Pacer(signal);
      const hexes: string[] = [];
      for (const hex of names) {
        if (isHex64(hex)) hexes.push(hex);
        else problems.push({ code: 'invalid-id', message: `${path.join(contentDir, hex)}: not an image id`, path: contentDir, subject: hex });
      }

      // 1. Image configs, their parent links and chain ids.
      const chains = new ChainTree();
      const read: ReadImage[] = [];
      for (const hex of hexes) {
        if (pace.due()) await pace.pause();
        read.push(this.readImage(hex, contentDir, metaDir, withMeta, chains));
      }
      throwIfAborted(signal);

      // Tag problems come right after the config names' problems, as before.
      const tags = await tagsRead;
      for (const p of tagProblems) problems.push(p);

      // 2. layerdb's size and cache-id files (what the worker has not read yet).
      const files = (await started)!;
      await files.finish(pace, signal);

      // 3. Layers, each read once per source, and the images over them.
      const ctx: LoadContext = { layerdb, files, layers: new Map() };
      const images: Image[] = [];
      for (const r of read) {
        if (pace.due()) await pace.pause();
        images.push(this.makeImage(r, tags.get(r.id), ctx));
      }
      throwIfAborted(signal);

      linkIntermediates(images, problems);
      if (pace.due()) await pace.pause();
      images.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.id.localeCompare(b.id));
      if (pace.due()) await pace.pause();

      // Layers in layerdb that no image names are still layers (e.g. left by a removed image).
      const { layers } = ctx;
      const orphans = (await listed) ? files.unused() : (await listDir(layerdb)).filter((hex) => isLayerDir(hex) && !layers.has('sha256:' + hex));
      for (const hex of orphans) {
        if (pace.due()) await pace.pause();
        const chainId = 'sha256:' + hex;
        layers.set(chainId, this.readLayer(ctx, chainId, '', undefined));
      }

      const layerList = [...layers.values()];
      const containers = await readContainers(source, layerList, images, problems, signal);
      return { source, images, layers: layerList, containers, problems };
    } finally {
      // A load that failed or was cancelled early stops the worker, or keeps it from starting.
      ended = true;
      started.then(
        (files) => files?.dispose(),
        () => undefined,
      );
    }
  }

  /** An image's config file read and checked, with what its image needs (`broken` when it cannot be read or parsed). */
  private readImage(hex: string, contentDir: string, metaDir: string, withMeta: Set<string> | undefined, chains: ChainTree): ReadImage {
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
      if (typeof config !== 'object' || config === null) throw new LayerError('corrupt', `${file} is not a JSON object`, file);
      const parentText = withMeta && !withMeta.has(hex) ? undefined : readOptionalSync(path.join(metaDir, hex, 'parent'));
      parentId = parentText || undefined;
    } catch (err) {
      problems.push(toProblem(err, id));
      return { id, problems, broken: true, chain: [] };
    }
    this.configs.set(id, file);
    // The digest of the text's UTF-8 bytes: the file's own bytes when they are valid UTF-8 (no re-encoding).
    if (sha256Hex(bytes) !== hex || !isUtf8(bytes)) {
      problems.push({ code: 'corrupt', message: `${file}: content does not match its digest`, path: file, subject: id });
    }
    const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs!.diff_ids!.map(String) : [];
    let chain: ChainNode[] = [];
    try {
      chain = chains.chain(diffIds);
    } catch (err) {
      problems.push(toProblem(err, id));
    }
    // Only what the image needs: the parsed Env, Labels… of its runtime config are left to the GC.
    const { created, os, architecture, variant, history } = config;
    return { id, problems, broken: false, parentId, config: { created, os, architecture, variant, history }, chain };
  }

  /** The image over its layers (read here the first time a chain id is met). */
  private makeImage(r: ReadImage, t: { tags: string[]; digests: string[] } | undefined, ctx: LoadContext): Image {
    const { source } = this;
    const imageProblems = r.problems;
    if (r.broken || !r.config) return this.brokenImage(r.id, t, imageProblems);
    const { config, chain } = r;
    const layerList: Layer[] = [];
    const layerKeys: string[] = [];
    let lower: Layer | undefined;
    let size = 0;
    for (let i = 0; i < chain.length; i++) {
      const node = chain[i];
      let layer = node.layer;
      if (!layer) {
        // Another node with this chain id (a crafted diff id equal to some chain id) shares its layer.
        layer = ctx.layers.get(node.chainId);
        if (!layer) {
          layer = this.readLayer(ctx, node.chainId, node.diffId, lower);
          ctx.layers.set(node.chainId, layer);
        }
        node.layer = layer;
      }
      layerList.push(layer);
      layerKeys.push(layer.key);
      size += layer.size;
      lower = layer;
      const lps = layer.problems;
      for (let k = 0; k < lps.length; k++) if (!imageProblems.includes(lps[k])) imageProblems.push(lps[k]);
    }
    return {
      key: `${source.key}/${r.id}`,
      id: r.id,
      source,
      tags: t?.tags ?? [],
      digests: t?.digests ?? [],
      created: config.created,
      size,
      parentId: r.parentId,
      platform: { os: config.os, architecture: config.architecture, variant: config.variant },
      steps: alignSteps(config, layerList),
      layerKeys,
      problems: imageProblems,
    };
  }

  /**
   * Reads one layerdb entry; problems stay on the layer. `lower` is the layer
   * below in the image that names it (undefined for a base layer or a layer no
   * image names: then `parent` is read from layerdb); `diffId` is '' when no
   * image names it (then `diff` is read).
   */
  private readLayer(ctx: LoadContext, chainId: string, diffId: string, lower: Layer | undefined): Layer {
    const { source } = this;
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
      problems.push(toProblem(err, chainId));
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

  private async readTags(problems: Problem[]): Promise<Map<string, { tags: string[]; digests: string[] }>> {
    const out = new Map<string, { tags: string[]; digests: string[] }>();
    const file = path.join(this.source.dir, 'repositories.json');
    let value: { Repositories?: Record<string, Record<string, string>> };
    try {
      value = (await readJson<typeof value>(file)).value;
    } catch (err) {
      if ((err as LayerError).code !== 'not-found') problems.push(toProblem(err, 'repositories.json'));
      return out;
    }
    for (const refs of Object.values(value?.Repositories ?? {})) {
      for (const [ref, id] of Object.entries(refs ?? {})) {
        if (typeof id !== 'string') continue;
        const entry = out.get(id) ?? { tags: [], digests: [] };
        (ref.includes('@') ? entry.digests : entry.tags).push(ref);
        out.set(id, entry);
      }
    }
    for (const e of out.values()) {
      e.tags.sort();
      e.digests.sort();
    }
    return out;
  }

  private brokenImage(id: string, t: { tags: string[]; digests: string[] } | undefined, problems: Problem[]): Image {
    return {
      key: `${this.source.key}/${id}`,
      id,
      source: this.source,
      tags: t?.tags ?? [],
      digests: t?.digests ?? [],
      size: 0,
      platform: {},
      steps: [],
      layerKeys: [],
      problems,
    };
  }

  async document(image: Image, stepIndex: number): Promise<LayerDocument> {
    const step = image.steps[stepIndex];
    if (!step) throw new LayerError('not-found', `image ${image.id} has no step ${stepIndex}`);
    const ownId = stepIndex === image.steps.length - 1 ? image.id : step.imageId;
    const own = ownId ? this.configs.get(ownId) : undefined;
    if (own !== undefined) {
      return { kind: 'image-config', text: await readText(own), path: own, imageId: image.id, stepIndex };
    }
    const top = await this.parsedConfig(image.id);
    if (!top) throw new LayerError('not-found', `the config of image ${image.id} could not be read`);
    return v1CompatDocument(image, top, stepIndex);
  }

  /** The parsed config of an image whose config loaded. */
  private async parsedConfig(id: string): Promise<ImageConfig | undefined> {
    if (this.parsed?.id === id) return this.parsed.config;
    const file = this.configs.get(id);
    if (file === undefined) return undefined;
    const config = parseJson<ImageConfig>(await readText(file), file);
    this.parsed = { id, config };
    return config;
  }
}

/**
 * Local builds leave an image per step with a parent link. Each ancestor whose
 * history is a prefix of the image's gives that step an image id, as
 * `docker history` shows it. Parent links that loop are cut and reported.
 */
function linkIntermediates(images: Image[], problems: Problem[]): void {
  const byId = new Map(images.map((i) => [i.id, i]));
  const parents = new Set(images.map((i) => i.parentId));
  for (const image of images) {
    if (image.tags.length === 0 && parents.has(image.id)) (image as { intermediate?: boolean }).intermediate = true;
  }
  for (const image of images) {
    const seen = new Set<string>([image.id]);
    const steps = image.steps as Step[];
    if (steps.length) steps[steps.length - 1] = { ...steps[steps.length - 1], imageId: image.id };
    let parentId = image.parentId;
    while (parentId) {
      if (seen.has(parentId)) {
        problems.push({ code: 'cycle', message: `image parent links loop at ${parentId}`, subject: image.id });
        break;
      }
      seen.add(parentId);
      const parent = byId.get(parentId);
      if (!parent) {
        image.problems.push({ code: 'missing-parent', message: `parent image ${parentId} is not in the store`, subject: image.id });
        break;
      }
      const at = parent.steps.length - 1;
      if (at >= 0 && at < steps.length && steps[at].createdBy === parent.steps[at].createdBy && !steps[at].imageId) {
        steps[at] = { ...steps[at], imageId: parent.id };
      }
      parentId = parent.parentId;
    }
  }
}
