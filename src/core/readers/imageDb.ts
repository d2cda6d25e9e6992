/**
 * The content-addressed layout of Docker 1.10 – 28: `image/<driver>/imagedb`
 * (image configs by digest), `layerdb` (layers by chain id) and
 * `repositories.json` (tags), with layer content in the driver's folders.
 */
import * as path from 'node:path';
import { Pacer } from '../concurrency';
import { LayerError, throwIfAborted, toProblem } from '../errors';
import { isHex64, listDir, parseJson, readJson, readText } from '../fsUtil';
import type { Image, Layer, LayerDocument, LayoutReader, Problem, Source, SourceContents, Step } from '../model';
import { readContainers } from './containers';
import { danglingTags } from './danglingTags';
import { alignSteps, stringField, unreadableImage, v1CompatDocument, type ImageConfig } from './imageConfig';
import { ChainTree, isLayerDir, readImage, readLayer, type LoadContext, type ReadImage } from './imageDbEntries';
import { FilesWorker, LayerdbFiles, layerdbFilesOptions } from './layerdbFiles';

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
        read.push(readImage(hex, contentDir, metaDir, withMeta, chains, this.configs));
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
      const known = new Set(images.map((i) => i.id));
      const tagLists = new Map([...tags].map(([id, e]) => [id, [...e.tags, ...e.digests]]));
      for (const p of danglingTags(tagLists, known, path.join(source.dir, 'imagedb'))) problems.push(p);

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
        layers.set(chainId, readLayer(source, ctx, chainId, '', undefined));
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

  /** The image over its layers (read here the first time a chain id is met). */
  private makeImage(r: ReadImage, t: { tags: string[]; digests: string[] } | undefined, ctx: LoadContext): Image {
    const { source } = this;
    const imageProblems = r.problems;
    if (r.broken || !r.config) return unreadableImage(this.source, r.id, t, imageProblems);
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
          layer = readLayer(source, ctx, node.chainId, node.diffId, lower);
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
      created: stringField(config.created),
      size,
      parentId: r.parentId,
      platform: { os: stringField(config.os), architecture: stringField(config.architecture), variant: stringField(config.variant) },
      steps: alignSteps(config, layerList),
      layerKeys,
      problems: imageProblems,
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
  // A loop is met from every image on or above it, at any of its members: said once, at its smallest id.
  const loops = new Set<string>();
  for (const image of images) {
    const seen = new Set<string>([image.id]);
    const steps = image.steps as Step[];
    if (steps.length) steps[steps.length - 1] = { ...steps[steps.length - 1], imageId: image.id };
    let parentId = image.parentId;
    while (parentId) {
      if (seen.has(parentId)) {
        const order = [...seen];
        const at = order.slice(order.indexOf(parentId)).sort()[0];
        if (!loops.has(at)) problems.push({ code: 'cycle', message: `image parent links loop at ${at}`, subject: at });
        loops.add(at);
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
