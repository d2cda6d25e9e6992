/**
 * The bench's path history figure (`npm run bench`, scripts/bench.ts): the
 * history (core/pathHistory.ts) of the big layer's last path in walk order,
 * over the big layer's whole stack, against walking the big layer alone
 * (`stat: false`, as the history walks), medians of 3. The last path is the
 * worst case: each layer is walked up to the path, so the big one whole.
 * Target ≤ 1.5×.
 */
import { walkLayer } from '../src/core/layerWalk';
import type { LayerContent } from '../src/core/model';
import { pathHistory } from '../src/core/pathHistory';
import { median, ms, ratioRow, round, runsText } from './benchRows';

const TARGET = 1.5;

/** Walks `content` (stat: false); returns the time and the last path. */
async function walkAlone(content: LayerContent): Promise<{ ms: number; last: string }> {
  let last = '/';
  const t0 = performance.now();
  for await (const e of walkLayer(content, { stat: false, signal: new AbortController().signal })) last = e.path;
  return { ms: performance.now() - t0, last };
}

/** `stack` bottom to top; `big` is the 100,000-file layer in it. */
export async function benchPathHistory(stack: readonly LayerContent[], big: LayerContent, gc: () => void) {
  const alone: number[] = [];
  const history: number[] = [];
  let versions = 0;
  let last = '/';
  for (let i = 0; i < 3; i++) {
    gc();
    const w = await walkAlone(big);
    alone.push(w.ms);
    last = w.last;
    gc();
    const t0 = performance.now();
    versions = 0;
    for await (const _ of pathHistory(stack, last, { signal: new AbortController().signal })) versions++;
    history.push(performance.now() - t0);
  }
  const [historyMs, aloneMs] = [median(history), median(alone)];
  const ratio = historyMs / aloneMs;
  const pass = ratio <= TARGET;
  const detail = `history of ${last} over ${stack.length} layers ${ms(historyMs)} (runs ${runsText(history)} ms; ${versions} versions); walk stat:false alone ${ms(aloneMs)} (runs ${runsText(alone)} ms)`;
  const rows = [ratioRow('path history (last path) / walk alone', ratio, TARGET, detail)];
  const json = { path: last, layers: stack.length, versions, medianMs: round(historyMs), runsMs: history.map(round), walkAloneMs: round(aloneMs), ratio: round(ratio), ratioTarget: TARGET, pass };
  return { rows, json };
}
