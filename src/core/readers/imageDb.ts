/**
 * The content-addressed layout of Docker 1.10 – 28: `image/<driver>/imagedb`
 * (image configs by digest), `layerdb` (layers by chain id) and
 * `repositories.json` (tags), with layer content in the driver's folders.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { mapLimit } from '../concurrency';
import { LayerError, throwIfAborted, toProblem } from '../errors';
import { childPath, digestHex, isHex64, listDir, parseJson, readJson, readOptional, readText } from '../fsUtil';
import type { Image, Layer, LayerContent, LayerDocument, LayoutReader, Problem, Source, SourceContents, Step } from '../model';
import { readContainers } from './containers';
import { driverContent } from './driverContent';
import { alignSteps, chainIds, v1CompatDocument, type ImageConfig } from './imageConfig';

export class ImageDbReader implements LayoutReader {
  /** Parsed configs by image id, kept for documents. */
  private configs = new Map<string, { text: string; config: ImageConfig; file: string }>();

  constructor(readonly source: Source) {}

  private get imagedb(): string {
    return path.join(this.source.dir, 'imagedb');
  }

  async load(signal?: AbortSignal): Promise<SourceContents> {
    const { source } = this;
    const problems: Problem[] = [];
    const contentDir = path.join(this.imagedb, 'content', 'sha256');
    const names = await listDir(contentDir);

    // 1. Image configs and their parent links.
    const parsed = await mapLimit(
      names,
      32,
      async (hex) => {
        if (!isHex64(hex)) {
          problems.push({ code: 'invalid-id', message: `${path.join(contentDir, hex)}: not an image id`, path: contentDir, subject: hex });
          return undefined;
        }
        const file = path.join(contentDir, hex);
        const id = 'sha256:' + hex;
        try {
          const text = await readText(file);
          const config = parseJson<ImageConfig>(text, file);
          if (typeof config !== 'object' || config === null) throw new LayerError('corrupt', `${file} is not a JSON object`, file);
          const parentText = await readOptional(path.join(this.imagedb, 'metadata', 'sha256', hex, 'parent'));
          return { id, hex, file, text, config, parentId: parentText || undefined, error: undefined };
        } catch (err) {
          return { id, hex, file, text: '', config: {} as ImageConfig, parentId: undefined, error: err };
        }
      },
      signal,
    );
    throwIfAborted(signal);

    // 2. Layers: every chain the images name, read from layerdb.
    const layerdb = path.join(source.dir, 'layerdb', 'sha256');
    const layers = new Map<string, Layer>();
    const layerLoads = new Map<string, Promise<Layer>>();
    const loadLayer = (chainId: string, diffId: string, below: Promise<Layer> | undefined): Promise<Layer> => {
      let p = layerLoads.get(chainId);
      if (!p) {
        p = this.readLayer(chainId, diffId, below).then((l) => (layers.set(l.key, l), l));
        layerLoads.set(chainId, p);
      }
      return p;
    };

    // 3. Tags.
    const tags = await this.readTags(problems);

    const images: Image[] = [];
    await mapLimit(
      parsed,
      16,
      async (p) => {
        if (!p) return;
        const imageProblems: Problem[] = [];
        if (p.error) {
          imageProblems.push(toProblem(p.error, p.id));
          images.push(this.brokenImage(p.id, tags.get(p.id), imageProblems));
          return;
        }
        const { config } = p;
        this.configs.set(p.id, { text: p.text, config, file: p.file });
        if (createHash('sha256').update(p.text).digest('hex') !== p.hex) {
          imageProblems.push({ code: 'corrupt', message: `${p.file}: content does not match its digest`, path: p.file, subject: p.id });
        }
        const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs!.diff_ids!.map(String) : [];
        let chains: string[] = [];
        try {
          diffIds.forEach((d) => digestHex(String(d), 'diff id'));
          chains = chainIds(diffIds);
        } catch (err) {
          imageProblems.push(toProblem(err, p.id));
        }
        const layerList: Layer[] = [];
        let below: Promise<Layer> | undefined;
        for (let i = 0; i < chains.length; i++) {
          below = loadLayer(chains[i], diffIds[i], below);
          layerList.push(await below);
        }
        for (const l of layerList) {
          for (const lp of l.problems) if (!imageProblems.includes(lp)) imageProblems.push(lp);
        }
        const layerKeys = layerList.map((l) => l.key);
        const steps = alignSteps(config, layerList);
        const t = tags.get(p.id);
        images.push({
          key: `${source.key}/${p.id}`,
          id: p.id,
          source,
          tags: t?.tags ?? [],
          digests: t?.digests ?? [],
          created: config.created,
          size: layerList.reduce((s, l) => s + l.size, 0),
          parentId: p.parentId,
          platform: { os: config.os, architecture: config.architecture, variant: config.variant },
          steps,
          layerKeys,
          problems: imageProblems,
        });
      },
      signal,
    );
    throwIfAborted(signal);

    linkIntermediates(images, problems);
    images.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.id.localeCompare(b.id));

    // Layers in layerdb that no image names are still layers (e.g. left by a removed image).
    for (const hex of await listDir(layerdb)) {
      if (hex.endsWith('-removing') || hex === 'tmp' || !isHex64(hex)) continue;
      const chainId = 'sha256:' + hex;
      if (!layerLoads.has(chainId)) await loadLayer(chainId, '', undefined);
    }

    const containers = await readContainers(source, [...layers.values()], images, problems, signal);
    return { source, images, layers: [...layers.values()], containers, problems };
  }

  /** Reads one layerdb entry; problems stay on the layer. */
  private async readLayer(chainId: string, diffId: string, below: Promise<Layer> | undefined): Promise<Layer> {
    const { source } = this;
    const key = `${source.key}/${chainId}`;
    const problems: Problem[] = [];
    let lower: Layer | undefined;
    if (below) lower = await below;
    const dir = childPath(path.join(source.dir, 'layerdb', 'sha256'), chainId.slice(7));
    let size = 0;
    let content: LayerContent | undefined;
    let parentId = lower?.id;
    try {
      const [sizeText, cacheId, diffText, parentText] = await Promise.all([
        readOptional(path.join(dir, 'size')),
        readOptional(path.join(dir, 'cache-id')),
        diffId ? Promise.resolve(undefined) : readOptional(path.join(dir, 'diff')),
        lower ? Promise.resolve(undefined) : readOptional(path.join(dir, 'parent')),
      ]);
      if (diffText) diffId = diffText;
      if (parentText) parentId = parentText;
      if (cacheId === undefined) {
        problems.push({ code: 'not-found', message: `layer ${chainId} is missing from ${path.dirname(dir)}`, path: dir, subject: chainId });
      } else {
        size = sizeText !== undefined && /^\d+$/.test(sizeText) ? Number(sizeText) : 0;
        if (sizeText !== undefined && !/^\d+$/.test(sizeText)) {
          problems.push({ code: 'corrupt', message: `${path.join(dir, 'size')}: not a number`, path: dir, subject: chainId });
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
      parentKey: parentId ? `${source.key}/${parentId}` : undefined,
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
    if (own && ownId) {
      return { kind: 'image-config', text: own.text, path: own.file, imageId: image.id, stepIndex };
    }
    const top = this.configs.get(image.id);
    if (!top) throw new LayerError('not-found', `the config of image ${image.id} could not be read`);
    return v1CompatDocument(image, top.config, stepIndex);
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
