/**
 * The legacy graph layout of Docker ≤ 1.9: `graph/<id>/json` (one JSON per
 * layer, each layer also an image), `layersize`, `repositories-<driver>`, and
 * the driver's content (`aufs/diff/<id>`, `vfs/dir/<id>`…).
 */
import * as path from 'node:path';
import { Pacer } from '../concurrency';
import { LayerError, throwIfAborted, toProblem } from '../errors';
import { childPath, exists, isHex64, listDir, parseJson, readJson, readOptionalSync, readText, readTextSync } from '../fsUtil';
import type { Container, Image, Layer, LayerContent, LayerDocument, LayoutReader, Problem, Source, SourceContents, Step } from '../model';
import { containerLayer, makeContainer, readContainerConfig } from './containers';
import { danglingTags } from './danglingTags';
import { driverContent, rwContent } from './driverContent';
import { stringField } from './imageConfig';

interface LegacyJson {
  id?: string;
  parent?: string;
  created?: string;
  comment?: string;
  container_config?: { Cmd?: unknown };
  Size?: number;
  architecture?: string;
  os?: string;
}

interface Node {
  id: string;
  json?: LegacyJson;
  file: string;
  size: number;
  error?: unknown;
}

/** `["/bin/sh","-c","#(nop) ","CMD [\"sh\"]"]` → `/bin/sh -c #(nop)  CMD ["sh"]`, as `docker history` shows it. */
export function legacyCreatedBy(cmd: unknown): string {
  return Array.isArray(cmd) ? cmd.map(String).join(' ') : typeof cmd === 'string' ? cmd : '';
}

/** The step a legacy layer makes (each layer is a step, and an image, in graph roots and ≤ 1.9 archives). */
export function legacyStep(
  l: Pick<Layer, 'id' | 'key' | 'size' | 'empty'>,
  index: number,
  json: { created?: string; comment?: string; container_config?: { Cmd?: unknown } } | undefined,
): Step {
  return {
    index,
    createdBy: legacyCreatedBy(json?.container_config?.Cmd),
    created: stringField(json?.created),
    comment: stringField(json?.comment) || undefined,
    empty: l.empty,
    layerKey: l.key,
    size: l.size,
    imageId: l.id,
  };
}

export class LegacyGraphReader implements LayoutReader {
  private nodes = new Map<string, Node>();

  constructor(readonly source: Source) {}

  async load(signal?: AbortSignal): Promise<SourceContents> {
    const { source } = this;
    const problems: Problem[] = [];
    const ids = (await listDir(source.dir)).filter((n) => n !== '_tmp');

    // Thousands of small files: read synchronously in time slices, not a promise per file.
    const read: Node[] = [];
    const pace = new Pacer(signal);
    for (const id of ids) {
      if (pace.due()) await pace.pause();
      if (!isHex64(id)) {
        problems.push({ code: 'invalid-id', message: `${path.join(source.dir, id)}: not a layer id`, subject: id });
        continue;
      }
      read.push(this.readNode(id));
    }
    throwIfAborted(signal);
    for (const n of read) this.nodes.set(n.id, n);

    // Layers, each over its parent's content.
    const layers = new Map<string, Layer>();
    const layerOf = (id: string, trail: Set<string>): Layer | undefined => {
      const done = layers.get(id);
      if (done) return done;
      const node = this.nodes.get(id);
      if (!node) return undefined;
      const layerProblems: Problem[] = node.error ? [toProblem(node.error, id)] : [];
      const parentId = node.json?.parent;
      let parent: Layer | undefined;
      if (parentId) {
        if (trail.has(parentId)) {
          layerProblems.push({ code: 'cycle', message: `parent links of layer ${id} loop back to ${parentId}`, subject: id });
        } else {
          trail.add(id);
          parent = layerOf(parentId, trail);
          if (!parent) layerProblems.push({ code: 'missing-parent', message: `parent layer ${parentId} of ${id} is missing`, subject: id });
        }
      }
      let content: LayerContent | undefined;
      try {
        content = driverContent(source.root, source.driver, id, parent?.content);
      } catch (err) {
        layerProblems.push(toProblem(err, id));
      }
      const layer: Layer = {
        key: `${source.key}/${id}`,
        id,
        source,
        parentKey: parent?.key,
        parentId,
        size: node.size,
        empty: node.size === 0 && isNop(node.json),
        content,
        problems: layerProblems,
      };
      layers.set(id, layer);
      return layer;
    };
    for (const id of this.nodes.keys()) layerOf(id, new Set());

    const tags = await this.readTags(problems);
    const childCount = new Map<string, number>();
    for (const l of layers.values()) if (l.parentId) childCount.set(l.parentId, (childCount.get(l.parentId) ?? 0) + 1);

    // Every graph entry is an image; its steps are its ancestry, bottom first.
    const images: Image[] = [];
    for (const top of layers.values()) {
      const chain: Layer[] = [];
      const seen = new Set<string>();
      for (let l: Layer | undefined = top; l && !seen.has(l.id); l = l.parentKey ? layers.get(l.parentId!) : undefined) {
        seen.add(l.id);
        chain.unshift(l);
      }
      const steps: Step[] = chain.map((l, index) => legacyStep(l, index, this.nodes.get(l.id)?.json));
      const json = this.nodes.get(top.id)?.json;
      const imageProblems = chain.flatMap((l) => l.problems);
      const t = tags.get(top.id) ?? [];
      images.push({
        key: `${source.key}/${top.id}`,
        id: top.id,
        source,
        tags: t,
        digests: [],
        created: stringField(json?.created),
        size: chain.reduce((s, l) => s + l.size, 0),
        parentId: top.parentId,
        platform: { os: stringField(json?.os), architecture: stringField(json?.architecture) },
        steps,
        layerKeys: chain.map((l) => l.key),
        problems: imageProblems,
        intermediate: t.length === 0 && (childCount.get(top.id) ?? 0) > 0,
      });
    }
    images.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.id.localeCompare(b.id));
    for (const p of danglingTags(tags, new Set(layers.keys()), this.source.dir)) problems.push(p);

    const containers = await this.readContainers(layers);
    return { source, images, layers: [...layers.values()], containers, problems };
  }

  /** `graph/<id>/json` and `layersize`; a node with `error` when the json cannot be read. */
  private readNode(id: string): Node {
    const dir = path.join(this.source.dir, id);
    const file = path.join(dir, 'json');
    try {
      const text = readTextSync(file);
      const json = parseJson<LegacyJson>(text, file);
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LayerError('corrupt', `${file} is not a JSON object`, file);
      const sizeText = readOptionalSync(path.join(dir, 'layersize'));
      const size = sizeText && /^\d+$/.test(sizeText) ? Number(sizeText) : typeof json.Size === 'number' ? json.Size : 0;
      return { id, json, file, size };
    } catch (err) {
      return { id, file, size: 0, error: err };
    }
  }

  private async readTags(problems: Problem[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const file = path.join(this.source.root, `repositories-${this.source.driver}`);
    try {
      const { value } = await readJson<{ Repositories?: Record<string, Record<string, string>> }>(file);
      for (const [repo, tags] of Object.entries(value?.Repositories ?? {})) {
        for (const [tag, id] of Object.entries(tags ?? {})) {
          if (typeof id !== 'string') continue;
          const ref = tag.startsWith('sha256:') ? `${repo}@${tag}` : `${repo}:${tag}`;
          out.set(id, [...(out.get(id) ?? []), ref].sort());
        }
      }
    } catch (err) {
      if ((err as LayerError).code !== 'not-found') problems.push(toProblem(err, path.basename(file)));
    }
    return out;
  }

  /** Legacy containers: rw layer `<driver>/diff/<id>` over `<id>-init` over the image. */
  private async readContainers(layers: Map<string, Layer>): Promise<Container[]> {
    const { source } = this;
    const out: Container[] = [];
    for (const id of await listDir(path.join(source.root, 'containers'))) {
      if (!isHex64(id)) continue;
      const cProblems: Problem[] = [];
      try {
        // A root upgraded in place keeps graph/ beside image/<driver>/: the containers Docker
        // 1.10+ migrated (config.v2.json) belong to the content-addressed layout, not to us.
        if (await exists(path.join(source.root, 'containers', id, 'config.v2.json'))) continue;
        const cfg = await readContainerConfig(source.root, id, ['config.json']);
        if (!cfg || (cfg.config.Driver && cfg.config.Driver !== source.driver)) continue;
        const imageId = cfg?.config.Image;
        const parent = imageId ? layers.get(imageId.replace(/^sha256:/, '')) : undefined;
        if (imageId && !parent) cProblems.push({ code: 'missing-parent', message: `image ${imageId} of container ${id} is missing`, subject: id });
        const init = rwContent(source.root, source.driver, `${id}-init`, parent?.content);
        const content = rwContent(source.root, source.driver, id, init);
        out.push(makeContainer(source, id, cfg, containerLayer(source, id, content, parent, cProblems), cProblems));
      } catch (err) {
        cProblems.push(toProblem(err, id));
        out.push(makeContainer(source, id, undefined, undefined, cProblems));
      }
    }
    return out;
  }

  async document(image: Image, stepIndex: number): Promise<LayerDocument> {
    const step = image.steps[stepIndex];
    if (!step) throw new LayerError('not-found', `image ${image.id} has no step ${stepIndex}`);
    const id = step.imageId ?? image.id;
    const file = childPath(this.source.dir, id) + path.sep + 'json';
    const text = await readText(file);
    // Verbatim, valid or not: the editor shows where a corrupt document breaks, the CLI says so.
    return { kind: 'legacy-json', text, path: file, imageId: image.id, stepIndex };
  }
}

function isNop(json: LegacyJson | undefined): boolean {
  return legacyCreatedBy(json?.container_config?.Cmd).includes('#(nop)');
}
