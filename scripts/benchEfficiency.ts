/**
 * The bench's efficiency figure (`npm run bench`, scripts/bench.ts): dive's
 * efficiency (core/efficiency.ts) of the big layer's whole stack, against
 * walking the big layer alone with lstat (`stat: true`, as sizes need),
 * medians of 3. Each layer of the stack is walked once; only regular files
 * are lstat()ed. Target ≤ 1.5×, as the merged view's.
 */
import { efficiency } from '../src/core/efficiency';
import { walkLayer } from '../src/core/layerWalk';
import type { LayerContent } from '../src/core/model';
import { median, ms, ratioRow, round, runsText } from './benchRows';

const TARGET = 1.5;

async function walkAlone(content: LayerContent): Promise<number> {
  const t0 = performance.now();
  for await (const _ of walkLayer(content, { signal: new AbortController().signal })) {
    // only the walk is timed
  }
  return performance.now() - t0;
}

/** `stack` bottom to top; `big` is the 100,000-file layer in it. */
export async function benchEfficiency(stack: readonly LayerContent[], big: LayerContent, gc: () => void) {
  const alone: number[] = [];
  const timed: number[] = [];
  let leaves = 0;
  let offenders = 0;
  let heapMb = 0;
  for (let i = 0; i < 3; i++) {
    gc();
    alone.push(await walkAlone(big));
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const r = await efficiency(stack, { signal: new AbortController().signal });
    timed.push(performance.now() - t0);
    heapMb = (process.memoryUsage().heapUsed - heap0) / 1e6;
    leaves = r.leaves;
    offenders = r.offenders.length;
  }
  const effMs = median(timed);
  const aloneMs = median(alone);
  const ratio = effMs / aloneMs;
  const rows = [
    ratioRow(
      'efficiency (dive) / walk alone',
      ratio,
      TARGET,
      `efficiency over ${stack.length} layers ${ms(effMs)} (runs ${runsText(timed)} ms; ${leaves} leaves, ${offenders} offenders, ~${heapMb.toFixed(0)} MB heap held at the end); walk stat:true alone ${ms(aloneMs)} (runs ${runsText(alone)} ms)`,
    ),
  ];
  const json = { layers: stack.length, leaves, offenders, medianMs: round(effMs), runsMs: timed.map(round), walkAloneMs: round(aloneMs), ratio: round(ratio), ratioTarget: TARGET, pass: ratio <= TARGET };
  return { rows, json };
}
