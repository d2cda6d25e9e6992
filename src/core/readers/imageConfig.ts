/**
 * What the content-addressed and containerd readers share: an image config's
 * shape, chain ids, history steps aligned with layers, and the v1-compatible
 * document of a step that has no image config of its own.
 */
import * as crypto from 'node:crypto';
import type { Image, Layer, LayerDocument, Problem, Source, Step } from '../model';
import { v1CompatText } from '../v1compat';

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  config?: Record<string, unknown>;
  history?: HistoryEntry[];
  rootfs?: { type?: string; diff_ids?: unknown[] };
}

/** A field of a config or layer JSON that must be a string (`created`, `os`…): anything else is dropped, not trusted. */
export function stringField(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** One-shot hash (crypto.hash, Node ≥ 20.12) where there is one: far cheaper than a Hash object per call. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Buffer, encoding: 'hex') => string }).hash;

/** Hex sha256 of a string's UTF-8 bytes, or of bytes. */
export function sha256Hex(data: string | Buffer): string {
  return oneShot ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

/** chain(0) = diffID(0); chain(n) = sha256(chain(n-1) + " " + diffID(n)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : 'sha256:' + sha256Hex(`${prev} ${diffId}`));
  }
  return out;
}

/**
 * Aligns config history with its layers as `docker history` does: every entry
 * not marked empty_layer takes the next layer; layers the history does not
 * describe (no history, or too short) get one step each.
 */
export function alignSteps(config: ImageConfig, layers: readonly Pick<Layer, 'key' | 'size'>[]): Step[] {
  const history = Array.isArray(config.history) ? config.history : [];
  const steps: Step[] = [];
  let next = 0;
  for (const h of history) {
    const empty = h?.empty_layer === true || next >= layers.length;
    const layer = empty ? undefined : layers[next++];
    steps.push({
      index: steps.length,
      createdBy: typeof h?.created_by === 'string' ? h.created_by : '',
      created: typeof h?.created === 'string' ? h.created : undefined,
      comment: typeof h?.comment === 'string' && h.comment ? h.comment : undefined,
      empty,
      layerKey: layer?.key,
      size: layer?.size ?? 0,
    });
  }
  for (; next < layers.length; next++) {
    steps.push({ index: steps.length, createdBy: '', empty: false, layerKey: layers[next].key, size: layers[next].size });
  }
  return steps;
}

/** The v1-compatible document of a step; its id is the chain id of the nearest layer at or below it. */
export function v1CompatDocument(image: Image, config: ImageConfig, stepIndex: number): LayerDocument {
  const idOf = (i: number) =>
    image.steps
      .slice(0, i + 1)
      .reverse()
      .find((s) => s.layerKey)
      ?.layerKey?.split('/')
      .pop();
  const text = v1CompatText(config, stepIndex, idOf(stepIndex), stepIndex > 0 ? idOf(stepIndex - 1) : undefined);
  return { kind: 'v1-compat', text, imageId: image.id, stepIndex };
}

/** An image whose config could not be read: listed with its names and the problem, no steps. */
export function unreadableImage(
  source: Source,
  id: string,
  names: { tags: string[]; digests: string[] } | undefined,
  problems: Problem[],
  created?: string,
): Image {
  return {
    key: `${source.key}/${id}`,
    id,
    source,
    tags: names?.tags ?? [],
    digests: names?.digests ?? [],
    created,
    size: 0,
    platform: {},
    steps: [],
    layerKeys: [],
    problems,
  };
}
