/**
 * Which layers images share, worked out from `docker image inspect` alone
 * (the inspect-<id>.json files of a truth folder), independently of our
 * readers: two images share the layer at position k exactly when their first
 * k+1 diff ids agree, since a layer's chain id is made of them. Used by the
 * unit tests (sharing.test.ts) and the real-host tests (integration/sharing.test.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

interface Inspected {
  id: string;
  /** Tagged or digested: `docker images` lists it whether or not it has children. */
  named: boolean;
  parent: string;
  layers: string[];
}

function inspected(truth: string): Inspected[] {
  return readdirSync(truth)
    .filter((f) => f.startsWith('inspect-'))
    .map((f) => JSON.parse(readFileSync(path.join(truth, f), 'utf8')))
    .map((raw) => (Array.isArray(raw) ? raw[0] : raw))
    .map((i) => ({
      id: i.Id as string,
      named: (i.RepoTags ?? []).length + (i.RepoDigests ?? []).length > 0,
      parent: (i.Parent ?? '') as string,
      layers: (i.RootFS?.Layers ?? []) as string[],
    }));
}

/**
 * For each image in scope (every inspected image with `withIntermediate`; else
 * those `docker images` lists: named, or without children), how many other
 * images in scope use its layer at each position, bottom first.
 */
export function expectedOthers(truth: string, withIntermediate: boolean): Map<string, number[]> {
  const all = inspected(truth);
  const parents = new Set(all.map((i) => i.parent).filter(Boolean));
  const inScope = all.filter((i) => withIntermediate || i.named || !parents.has(i.id));
  const users = new Map<string, number>();
  const key = (i: Inspected, k: number) => i.layers.slice(0, k + 1).join(' ');
  for (const i of inScope) i.layers.forEach((_, k) => users.set(key(i, k), (users.get(key(i, k)) ?? 0) + 1));
  return new Map(inScope.map((i) => [i.id, i.layers.map((_, k) => users.get(key(i, k))! - 1)]));
}
