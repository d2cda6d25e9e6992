/**
 * `docker save` archives of Docker ≤ 1.9: `<id>/json` (the legacy layer JSON,
 * with its `parent`), `<id>/layer.tar` and `repositories`; no manifest. Each id
 * is a layer and, as in the legacy graph, an image of its ancestry; the tagged
 * ones (or, with no tags, those nobody builds on) are listed.
 */
import { toProblem } from '../errors';
import { isHex64, parseJson } from '../fsUtil';
import type { Image, Layer, Problem, Source, Step, TarBlob } from '../model';
import type { ArchiveFiles } from './archiveFiles';
import { tarLayerSize } from '../tar/layerIndex';
import { stringField } from './imageConfig';
import { legacyCreatedBy, legacyStep } from './legacyGraph';

interface LegacyJson {
  parent?: unknown;
  created?: string;
  comment?: string;
  container_config?: { Cmd?: unknown };
  os?: string;
  architecture?: string;
}

export async function loadLegacyArchive(
  source: Source,
  files: ArchiveFiles,
  layers: Map<string, Layer>,
  problems: Problem[],
  signal?: AbortSignal,
): Promise<Image[]> {
  const jsons = new Map<string, LegacyJson>();
  for (const id of files.topNames()) {
    if (!isHex64(id) || !files.has(`${id}/json`)) continue;
    try {
      const json = parseJson<LegacyJson>(files.text(`${id}/json`), `${files.path}:${id}/json`);
      jsons.set(id, typeof json === 'object' && json !== null ? json : {});
    } catch (err) {
      problems.push(toProblem(err, id)); // names the file (parseJson, or the read)
    }
  }

  const byId = new Map<string, Layer>();
  /** Each layer's chain bottom first, and its blobs nearest first. */
  const chains = new Map<string, { layers: Layer[]; blobs: TarBlob[] }>();
  const layerOf = async (id: string, trail: Set<string>): Promise<{ layers: Layer[]; blobs: TarBlob[] } | undefined> => {
    const done = chains.get(id);
    if (done) return done;
    const json = jsons.get(id);
    if (!json) return undefined;
    const own: Problem[] = [];
    const parentId = typeof json.parent === 'string' && isHex64(json.parent) ? json.parent : undefined;
    let below: { layers: Layer[]; blobs: TarBlob[] } | undefined;
    if (parentId) {
      if (trail.has(parentId)) own.push({ code: 'cycle', message: `parent links of layer ${id} loop back to ${parentId}`, subject: id });
      else below = await layerOf(parentId, new Set([...trail, id]));
      if (!below && !trail.has(parentId)) own.push({ code: 'missing-parent', message: `parent layer ${parentId} of ${id} is not in the archive`, subject: id });
    }
    const parent = below?.layers[below.layers.length - 1];
    let layer: Layer = { key: `${source.key}/${id}`, id, source, parentKey: parent?.key, parentId, size: 0, empty: false, problems: own };
    try {
      const blob = files.blob(`${id}/layer.tar`);
      const lowerBlobs = below?.blobs ?? [];
      const { size, problems: sized } = await tarLayerSize(blob, id, signal);
      own.push(...sized);
      const empty = size === 0 && legacyCreatedBy(json.container_config?.Cmd).includes('#(nop)');
      layer = { ...layer, size, empty, content: { dir: blob.file, form: 'diff', whiteouts: 'aufs', lowerDirs: [], tar: { blob, lowerBlobs } } };
    } catch (err) {
      own.push({ ...toProblem(err, id), message: `layer ${id.slice(0, 12)}: ${(err as Error).message}` });
    }
    layers.set(layer.key, layer);
    byId.set(id, layer);
    const chain = { layers: [...(below?.layers ?? []), layer], blobs: layer.content?.tar ? [layer.content.tar.blob, ...(below?.blobs ?? [])] : below?.blobs ?? [] };
    chains.set(id, chain);
    return chain;
  };
  for (const id of jsons.keys()) await layerOf(id, new Set());

  const tags = readRepositories(files, problems);
  const parents = new Set([...byId.values()].map((l) => l.parentId).filter((p): p is string => !!p));
  const tops = tags.size > 0 ? [...tags.keys()].filter((id) => byId.has(id)) : [...byId.keys()].filter((id) => !parents.has(id));
  return tops.map((top) => {
    const chain = chains.get(top)!.layers;
    const steps: Step[] = chain.map((l, index) => legacyStep(l, index, jsons.get(l.id)));
    const json = jsons.get(top);
    return {
      key: `${source.key}/${top}`,
      id: top,
      source,
      tags: tags.get(top) ?? [],
      digests: [],
      created: stringField(json?.created),
      size: chain.reduce((s, l) => s + l.size, 0),
      parentId: byId.get(top)?.parentId,
      platform: { os: stringField(json?.os), architecture: stringField(json?.architecture) },
      steps,
      layerKeys: chain.map((l) => l.key),
      problems: chain.flatMap((l) => l.problems),
    };
  });
}

/** `repositories`: `{"repo": {"tag": "<id>"}}` → id → `repo:tag` list. */
function readRepositories(files: ArchiveFiles, problems: Problem[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!files.has('repositories')) return out;
  try {
    const value = parseJson<Record<string, Record<string, unknown>>>(files.text('repositories'), `${files.path}:repositories`);
    for (const [repo, tags] of Object.entries(value ?? {})) {
      for (const [tag, id] of Object.entries(tags ?? {})) {
        if (typeof id === 'string' && isHex64(id)) out.set(id, [...(out.get(id) ?? []), `${repo}:${tag}`].sort());
      }
    }
  } catch (err) {
    problems.push(toProblem(err, 'repositories'));
  }
  return out;
}
