/**
 * The two points a comparison is between, as people name them: an image's
 * top, `IMAGE@N` (as of step N), or a range `IMAGE@I..J` (the merged tree
 * before step I against the one as of step J), resolved to their layers.
 */
import { LayerError } from './errors';
import type { Image, Layer } from './model';
import { shortId } from './model';
import type { Store } from './store';

/** One side of a comparison: an image as of a step (stepIndex -1: before its first step, nothing at all). */
export interface ComparePoint {
  readonly image: Image;
  readonly stepIndex: number;
  /** The layers of steps 0..stepIndex, bottom first (empty steps have none). */
  readonly layers: readonly Layer[];
  /** How people name it: `dle/app:1`, `dle/app:1@3`. */
  readonly label: string;
}

/** How a point reads when no reference names it: `dle/app:1` (its top), `dle/app:1@4`, `dle/app:1 before step 0 (nothing)`. */
export function pointLabel(image: Image, stepIndex: number): string {
  const name = image.tags[0] ?? shortId(image.id);
  if (stepIndex < 0) return `${name} before step 0 (nothing)`;
  return stepIndex === image.steps.length - 1 ? name : `${name}@${stepIndex}`;
}

/** An image as of step `stepIndex` (-1: before its first step). */
export function comparePoint(store: Store, image: Image, stepIndex: number, label = pointLabel(image, stepIndex)): ComparePoint {
  const layers: Layer[] = [];
  for (const step of image.steps.slice(0, stepIndex + 1)) {
    if (step.layerKey === undefined) continue;
    const layer = store.layer(step.layerKey);
    if (!layer) throw new LayerError('not-found', `${label}: the layer of step ${step.index} is missing from the store`);
    layers.push(layer);
  }
  return { image, stepIndex, layers, label };
}

const RANGE = /^(.+)@(\d+)\.\.(\d+)$/;

/**
 * The two sides named by the CLI's and the views' references: `A B` (each an
 * image, `IMAGE@N` or a layer id, as Store.resolveStep takes them), or one
 * range `IMAGE@I..J` (B omitted): the merged tree before step I against the
 * one as of step J, i.e. what steps I to J add together.
 */
export function resolveComparison(store: Store, refA: string, refB?: string): { a: ComparePoint; b: ComparePoint } {
  const range = RANGE.exec(refA);
  if (range) {
    if (refB !== undefined) throw new LayerError('invalid-id', `${refA} is a range: give no second image`);
    const image = store.findImage(range[1]);
    const [from, to] = [Number(range[2]), Number(range[3])];
    if (from > to) throw new LayerError('invalid-id', `${refA}: the range must go up (${to}..${from}?)`);
    if (to >= image.steps.length) throw new LayerError('not-found', `image ${range[1]} has ${image.steps.length} steps (0–${image.steps.length - 1})`);
    const before = from > 0 ? `${range[1]}@${from - 1}` : `${range[1]} before step 0 (nothing)`;
    return { a: comparePoint(store, image, from - 1, before), b: comparePoint(store, image, to, `${range[1]}@${to}`) };
  }
  if (refB === undefined) throw new LayerError('invalid-id', `compare needs two images or steps, or one range IMAGE@I..J`);
  const sa = store.resolveStep(refA);
  const sb = store.resolveStep(refB);
  return { a: comparePoint(store, sa.image, sa.stepIndex, refA), b: comparePoint(store, sb.image, sb.stepIndex, refB) };
}
