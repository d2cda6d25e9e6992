/**
 * The walks of a comparison (compare.ts): each side's layers applied to its
 * merged tree, the layers both sides share walked once for both, and the two
 * top layers walked together, in path order.
 *
 * Why together: a path is final on a side once every layer below the top is
 * applied and the top layer's walk is past it (nothing a walk gives later can
 * touch it: its descendants come after it, its ancestors before). Walking both
 * tops in step, a path is final on both sides as soon as both walks are past
 * it, so the byte comparers get work from the first folders on, not only once
 * one whole side is walked.
 *
 * Every walk gives paths in that order (layerWalk.ts: depth first, a folder
 * before its children, names in code-unit order; an archive's too). A walk
 * found out of order all the same would make what was given unreliable:
 * `walkTops` then says so, and the caller pairs from the finished trees.
 *
 * Regular files are not lstat()ed (`stat: 'not-files'`): the byte comparers
 * fstat them (quickCompare.ts), and compare.ts lstats the few they do not open.
 */
import { throwIfAborted } from './errors';
import { comparePaths, type LayerEntry, type WalkProblem } from './layerEntry';
import { MergedTree } from './layerStack';
import { walkLayer } from './layerWalk';
import type { LayerContent } from './model';

/** The merged tree of one side. */
export class Side {
  readonly tree: MergedTree;

  constructor(
    readonly name: 'a' | 'b',
    readonly layers: readonly LayerContent[],
  ) {
    this.tree = new MergedTree(layers.length);
  }
}

export interface Reporter {
  readonly signal?: AbortSignal;
  problem(side: 'a' | 'b', path: string, message: string): void;
  walked(): void;
}

/** Layer `i`'s walk of `sides[0].layers` (the same layer on every side given), its problems reported for each side. */
function walkOf(sides: readonly Side[], i: number, report: Reporter): AsyncGenerator<LayerEntry> {
  const onProblem = (p: WalkProblem) => {
    for (const s of sides) report.problem(s.name, p.path, `layer ${i}: ${p.message}`);
  };
  return walkLayer(sides[0].layers[i], { signal: report.signal, onProblem, stat: 'not-files' });
}

/** Walks `layers[from..to)` of the first side's content list, applying every entry to each of `sides` (the layers they share). */
export async function walkInto(sides: readonly Side[], from: number, to: number, report: Reporter): Promise<void> {
  for (let i = from; i < to; i++) {
    throwIfAborted(report.signal);
    for await (const e of walkOf(sides, i, report)) for (const s of sides) s.tree.apply(i, e);
    report.walked();
  }
}

/** One side's top layer as it is walked, one entry ahead. */
interface TopWalk {
  readonly side: Side;
  readonly layer: number;
  readonly walk: AsyncGenerator<LayerEntry>;
  head: LayerEntry | undefined;
}

/**
 * Walks the top layer `layer` of each side given, together, in path order,
 * and calls `onPath` with each path a top walk gives once every walk is past
 * it (it is then final on both sides). Returns false when a walk was not in
 * path order: the paths given may then have changed after `onPath`. `walk`:
 * that layer's walk, when not walkLayer's (tests).
 */
export async function walkTops(
  tops: readonly { side: Side; layer: number; walk?: AsyncGenerator<LayerEntry> }[],
  report: Reporter,
  onPath: (path: string) => void,
): Promise<boolean> {
  let ordered = true;
  const walks: TopWalk[] = tops.map(({ side, layer, walk }) => ({ side, layer, walk: walk ?? walkOf([side], layer, report), head: undefined }));
  const advance = async (w: TopWalk): Promise<void> => {
    const last = w.head?.path;
    const next = await w.walk.next();
    w.head = next.done ? undefined : next.value;
    if (w.head === undefined) report.walked();
    else if (last !== undefined && comparePaths(w.head.path, last) <= 0) ordered = false;
  };
  try {
    for (const w of walks) await advance(w);
    for (;;) {
      let path: string | undefined;
      for (const w of walks) if (w.head && (path === undefined || comparePaths(w.head.path, path) < 0)) path = w.head.path;
      if (path === undefined) return ordered;
      for (const w of walks) {
        if (w.head?.path !== path) continue;
        w.side.tree.apply(w.layer, w.head);
        await advance(w);
      }
      if (ordered) onPath(path);
    }
  } finally {
    // One walk failed or was cancelled: the other ends too (its helpers stop).
    for (const w of walks) await w.walk.return(undefined).catch(() => undefined);
  }
}
