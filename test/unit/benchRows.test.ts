// The bench's shared rows (scripts/benchRows.ts) and the figure modules that
// fill them (benchFindPath, benchPathHistory, benchEfficiency), run here on the
// project's real overlay2 root: `npm run bench` needs a 12,000-layer synthetic
// root and minutes, so without this a core API change that breaks a figure
// module would only show when the lead runs the bench.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { efficiency } from '../../src/core/efficiency';
import type { LayerContent } from '../../src/core/model';
import { Store } from '../../src/core/store';
import { benchEfficiency } from '../../scripts/benchEfficiency';
import { benchFindPath } from '../../scripts/benchFindPath';
import { benchPathHistory } from '../../scripts/benchPathHistory';
import { median, ms, printTable, ratioRow, round, runsText, type Row } from '../../scripts/benchRows';
import { projectRoot, whyMissing } from './support/roots';

test('median: the middle value of an odd list, the mean of the middle two of an even one, whatever the order', () => {
  assert.equal(median([30, 10, 20]), 20);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  const xs = [3, 1, 2];
  median(xs);
  assert.deepEqual(xs, [3, 1, 2], 'the list given is not sorted in place');
});

test('ms, runsText, round: the table and JSON formats', () => {
  assert.equal(ms(3.14159), '3.14 ms');
  assert.equal(ms(123.456), '123.5 ms');
  assert.equal(ms(NaN), 'n/a', 'a first hit never reached');
  assert.equal(runsText([1.04, 22.25, 3]), '1.0 / 22.3 / 3.0');
  assert.equal(round(1.23456), 1.23);
  assert.deepEqual([1.005, 2.499].map(round), [1, 2.5], 'one argument: map(round) does not round to the index');
});

test('ratioRow: PASS at and under the ceiling, MISS over it', () => {
  assert.deepEqual(ratioRow('m', 1.5, 1.5, 'd'), { metric: 'm', measured: '1.50×', target: '≤ 1.5×', pass: true, detail: 'd' });
  assert.equal(ratioRow('m', 1.51, 1.5, 'd').pass, false);
  assert.equal(ratioRow('m', 0.2, 2, 'd').target, '≤ 2×');
});

test('printTable: aligned columns, PASS / MISS / blank for reference rows, the detail left whole', (t) => {
  const rows: Row[] = [
    ratioRow('short', 1, 1.5, 'first detail'),
    ratioRow('a longer metric', 2, 1.5, 'x'.repeat(60)),
    { metric: 'ref', measured: '9 ms', target: 'reference', pass: undefined, detail: '' },
  ];
  const lines: string[] = [];
  t.mock.method(console, 'log', (line: string) => lines.push(line));
  printTable(rows);
  t.mock.restoreAll();
  assert.equal(lines.length, 2 + rows.length);
  assert.match(lines[0], /^metric {11}measured {2}target {5}result {2}detail$/);
  assert.equal(lines[1], `${'-'.repeat(15)}  ${'-'.repeat(8)}  ${'-'.repeat(9)}  ${'-'.repeat(6)}  ${'-'.repeat(40)}`);
  assert.equal(lines[2], `short            1.00×     ≤ 1.5×     PASS    first detail`);
  assert.ok(lines[3].startsWith('a longer metric  2.00×     ≤ 1.5×     MISS    ') && lines[3].endsWith('x'.repeat(60)));
  assert.equal(lines[4].trimEnd(), 'ref              9 ms      reference');
});

const overlay2 = projectRoot('overlay2');

test('the figure modules run on a real root and report what they measured', { skip: overlay2 ? false : whyMissing('overlay2') }, async () => {
  const store = await Store.open([overlay2!.root]);
  const waste = store.images.find((i) => i.tags.some((tag) => tag.endsWith('dle/waste:1')));
  assert.ok(waste, 'dle/waste:1 on the overlay2 root');
  const stack: LayerContent[] = waste.layerKeys.map((k) => store.layer(k)?.content).filter((c): c is LayerContent => c !== undefined);
  assert.equal(stack.length, waste.layerKeys.length, 'every layer of dle/waste:1 has its content');
  const top = stack[stack.length - 1];
  let gcs = 0;
  const gc = () => void gcs++;

  const found = await benchFindPath(store, gc);
  const dirs = new Set(store.layers.flatMap((l) => (l.content ? [l.content.dir] : [])));
  assert.equal(found.json.layers, dirs.size, 'the search and find go over every layer folder of the store');
  assert.deepEqual(found.rows.map((r) => r.metric), ['find path: first hit', 'find path: search / find', 'find path: glob in a folder']);
  assert.equal(found.rows[1].measured, `${found.json.ratio.toFixed(2)}×`);
  assert.equal(found.rows[1].pass, found.json.ratioPass);
  assert.equal(found.rows[2].pass, undefined, 'the folder glob is a reference figure');
  assert.equal(found.json.fullRunsMs.length, 3);
  assert.ok(found.json.entries > 0, 'the search walked entries');

  const history = await benchPathHistory(stack, top, gc);
  assert.equal(history.json.layers, stack.length);
  assert.ok(history.json.versions >= 1, `${history.json.path} has at least the version of the top layer`);
  assert.equal(history.rows[0].pass, history.json.pass);
  assert.equal(history.rows[0].measured, `${history.json.ratio.toFixed(2)}×`);

  const efficient = await benchEfficiency(stack, top, gc);
  const truth = await efficiency(stack);
  assert.equal(efficient.json.leaves, truth.leaves);
  assert.equal(efficient.json.offenders, truth.offenders.length);
  assert.ok(efficient.json.offenders > 0, 'dle/waste:1 wastes space by construction');
  assert.equal(efficient.rows[0].pass, efficient.json.pass);
  assert.equal(gcs, 3 * 2 * 3, 'each module asks for a collection before each of its 2 timed steps, 3 runs');
});
