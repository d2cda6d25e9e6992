/**
 * Containers of a Docker root: `containers/<id>/config.v2.json` (config.json in
 * old roots) and, in the content-addressed layout, `layerdb/mounts/<id>/` for
 * the read-write layer. Shared by the legacy and content-addressed readers.
 */
import * as path from 'node:path';
import { Pacer } from '../concurrency';
import { LayerError, errorMessage, throwIfAborted } from '../errors';
import { exists, existsNoFollowSync, isHex64, listDir, parseJson, readJson, readOptionalSync, readTextSync } from '../fsUtil';
import type { Container, Image, Layer, LayerContent, Problem, Source } from '../model';
import { rwContent } from './driverContent';

export interface ContainerConfig {
  ID?: string;
  Name?: string;
  Image?: string;
  Created?: string;
  Driver?: string;
  Config?: { Image?: string };
}

/**
 * Reads `containers/<id>/config.v2.json` or `config.json`; undefined when neither exists.
 * `names` narrows which: the legacy layout owns only the containers that still have
 * the old `config.json` alone (Docker 1.10+ moved the others to config.v2.json).
 */
export async function readContainerConfig(
  root: string,
  id: string,
  names: readonly string[] = ['config.v2.json', 'config.json'],
): Promise<{ config: ContainerConfig; file: string } | undefined> {
  const dir = path.join(root, 'containers', id);
  for (const name of names) {
    const file = path.join(dir, name);
    if (!(await exists(file))) continue;
    const { value } = await readJson<ContainerConfig>(file);
    return { config: value ?? {}, file };
  }
  return undefined;
}

/** readContainerConfig, synchronously (for loops over many containers, paced by the caller). */
export function readContainerConfigSync(
  root: string,
  id: string,
  names: readonly string[] = ['config.v2.json', 'config.json'],
): { config: ContainerConfig; file: string } | undefined {
  const dir = path.join(root, 'containers', id);
  for (const name of names) {
    const file = path.join(dir, name);
    if (!existsNoFollowSync(file)) continue;
    const text = readTextSync(file);
    const value = parseJson<ContainerConfig>(text, file);
    return { config: value ?? {}, file };
  }
  return undefined;
}

export function containerLayer(
  source: Source,
  id: string,
  content: LayerContent | undefined,
  parent: Layer | undefined,
  problems: Problem[],
): Layer {
  return {
    key: `${source.key}/container/${id}`,
    id,
    source,
    parentKey: parent?.key,
    parentId: parent?.id,
    size: 0,
    empty: false,
    content,
    problems,
  };
}

export function makeContainer(
  source: Source,
  id: string,
  cfg: { config: ContainerConfig; file: string } | undefined,
  layer: Layer | undefined,
  problems: Problem[],
): Container {
  const c = cfg?.config;
  return {
    key: `${source.key}/container/${id}`,
    id,
    name: (typeof c?.Name === 'string' ? c.Name : '').replace(/^\//, ''),
    imageId: typeof c?.Image === 'string' ? c.Image : undefined,
    imageRef: typeof c?.Config?.Image === 'string' ? c.Config.Image : undefined,
    created: typeof c?.Created === 'string' ? c.Created : undefined,
    source,
    layer,
    configPath: cfg?.file,
    problems,
  };
}

/** Containers of a content-addressed source (`layerdb/mounts`). */
export async function readContainers(
  source: Source,
  layers: Layer[],
  _images: Image[],
  sourceProblems: Problem[],
  signal?: AbortSignal,
): Promise<Container[]> {
  const mounts = path.join(source.dir, 'layerdb', 'mounts');
  const byId = new Map(layers.map((l) => [l.id, l]));
  const out: Container[] = [];
  const pace = new Pacer(signal);
  for (const id of await listDir(mounts)) {
    throwIfAborted(signal);
    if (pace.due()) await pace.pause();
    if (!isHex64(id)) {
      sourceProblems.push({ code: 'invalid-id', message: `${path.join(mounts, id)}: not a container id`, subject: id });
      continue;
    }
    const problems: Problem[] = [];
    // Outside the try: a bad mount-id must not cost the container its name and image.
    let cfg: { config: ContainerConfig; file: string } | undefined;
    try {
      const dir = path.join(mounts, id);
      const [mountId, initId, parentId] = ['mount-id', 'init-id', 'parent'].map((f) => readOptionalSync(path.join(dir, f)));
      try {
        cfg = readContainerConfigSync(source.root, id);
      } catch (err) {
        problems.push({ code: (err as LayerError).code ?? 'io', message: errorMessage(err), subject: id });
      }
      // A root with two drivers keeps each container under the one it ran on.
      if (cfg?.config.Driver && cfg.config.Driver !== source.driver) continue;
      const parent = parentId ? byId.get(parentId) : undefined;
      if (parentId && !parent) {
        problems.push({ code: 'missing-parent', message: `the image layer ${parentId} of container ${id} is missing`, subject: id });
      }
      let content: LayerContent | undefined;
      if (!mountId) {
        problems.push({ code: 'not-found', message: `${path.join(dir, 'mount-id')} is missing`, subject: id });
      } else {
        const init = initId ? rwContent(source.root, source.driver, initId, parent?.content) : parent?.content;
        content = rwContent(source.root, source.driver, mountId, init);
      }
      out.push(makeContainer(source, id, cfg, containerLayer(source, mountId ?? id, content, parent, problems), problems));
    } catch (err) {
      problems.push({ code: (err as LayerError).code ?? 'io', message: `container ${id}: ${errorMessage(err)}`, subject: id });
      out.push(makeContainer(source, id, cfg, undefined, problems));
    }
  }
  return out;
}
