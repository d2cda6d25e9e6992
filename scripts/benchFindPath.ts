/**
 * The bench's path search figures (`npm run bench`, scripts/bench.ts): a
 * search over every layer of the synthetic root's store (core/findPath.ts),
 * medians of 3, against its targets:
 *   - first hit                                             ≤ 200 ms
 *   - whole search vs `find` over every layer folder         ≤ 1.5×
 *     (the folders given to one `find -files0-from -` process, `-printf ''`: no lstat)
 * The pattern is a substring (`link-`, the big layers' symlinks), so every
 * layer is walked whole; a glob with a folder (`/usr/lib/a0/**\/link-*`) is
 * measured too, for reference: it walks only that folder where a layer has it.
 */
import { spawnSync } from 'node:child_process';
import { findPath, parsePathPattern, type PathPattern } from '../src/core/findPath';
import type { Store } from '../src/core/store';
import { median, ms, ratioRow, round, runsText, type Row } from './benchRows';

const TARGETS = { firstHitMs: 200, searchVsFind: 1.5 } as const;

interface SearchRun {
  firstMs: number;
  fullMs: number;
  hits: number;
  entries: number;
  skipped: number;
}

async function searchOnce(store: Store, text: string): Promise<SearchRun> {
  const pattern = parsePathPattern(text) as PathPattern;
  let entries = 0;
  let skipped = 0;
  let hits = 0;
  let firstMs = NaN;
  const t0 = performance.now();
  const onProgress = (p: { entries: number; layersSkipped: number }) => ({ entries, layersSkipped: skipped } = p);
  for await (const _ of findPath(store, pattern, { signal: new AbortController().signal, onProgress })) {
    if (++hits === 1) firstMs = performance.now() - t0;
  }
  return { firstMs, fullMs: performance.now() - t0, hits, entries, skipped };
}

/** `find` over every layer folder, one process, wall time; the same folders the search walks. */
function findOnce(dirs: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync('find', ['-files0-from', '-', '-printf', ''], { input: dirs.join('\0') + '\0', stdio: ['pipe', 'ignore', 'pipe'] });
  const t = performance.now() - t0;
  if (r.status !== 0) throw new Error(`find -files0-from failed (status ${r.status ?? r.signal}): ${String(r.stderr).slice(0, 200)}`);
  return t;
}

export async function benchFindPath(store: Store, gc: () => void) {
  const dirs = [...new Set(store.layers.flatMap((l) => (l.content ? [l.content.dir] : [])))];
  findOnce(dirs); // warm-up: both read a warm dentry cache
  const finds: number[] = [];
  const searches: SearchRun[] = [];
  const scoped: SearchRun[] = [];
  for (let i = 0; i < 3; i++) {
    finds.push(findOnce(dirs));
    gc();
    searches.push(await searchOnce(store, 'link-'));
    gc();
    scoped.push(await searchOnce(store, '/usr/lib/a0/**/link-*'));
  }
  const firstMs = median(searches.map((s) => s.firstMs));
  const fullMs = median(searches.map((s) => s.fullMs));
  const findMs = median(finds);
  const ratio = fullMs / findMs;
  const s = searches[searches.length - 1];
  const g = scoped[scoped.length - 1];
  const scopedMs = median(scoped.map((x) => x.fullMs));
  const rows: Row[] = [
    { metric: 'find path: first hit', measured: ms(firstMs), target: `≤ ${TARGETS.firstHitMs} ms`, pass: firstMs <= TARGETS.firstHitMs, detail: `runs ${runsText(searches.map((x) => x.firstMs))} ms; substring "link-" over ${dirs.length} layers` },
    ratioRow('find path: search / find', ratio, TARGETS.searchVsFind, `search ${ms(fullMs)} (runs ${runsText(searches.map((x) => x.fullMs))} ms; ${s.hits} hits, ${s.entries} entries, ${s.skipped} empty layers skipped); find -files0-from ${ms(findMs)} (runs ${runsText(finds)} ms)`),
    { metric: 'find path: glob in a folder', measured: ms(scopedMs), target: 'reference', pass: undefined, detail: `"/usr/lib/a0/**/link-*": runs ${runsText(scoped.map((x) => x.fullMs))} ms; ${g.hits} hits, ${g.entries} entries walked, ${g.skipped} layers without the folder` },
  ];
  const json = {
    layers: dirs.length,
    firstHitMs: round(firstMs),
    firstHitRunsMs: searches.map((x) => round(x.firstMs)),
    firstHitTargetMs: TARGETS.firstHitMs,
    firstHitPass: firstMs <= TARGETS.firstHitMs,
    fullMs: round(fullMs),
    fullRunsMs: searches.map((x) => round(x.fullMs)),
    findMs: round(findMs),
    findRunsMs: finds.map(round),
    ratio: round(ratio),
    ratioTarget: TARGETS.searchVsFind,
    ratioPass: ratio <= TARGETS.searchVsFind,
    hits: s.hits,
    entries: s.entries,
    skipped: s.skipped,
    scoped: { pattern: '/usr/lib/a0/**/link-*', medianMs: round(scopedMs), hits: g.hits, entries: g.entries, skipped: g.skipped },
  };
  return { rows, json };
}
