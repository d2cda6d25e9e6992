/**
 * The CLI against what a real Docker daemon answered for the same root:
 * `docker image ls -a`, `docker image inspect`, `docker history --no-trunc`,
 * `docker diff`. Runs on the project's own roots and on ../shared/fixtures.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { humanSize } from '../../src/core/format';
import { cliJson, runCli } from './support/cli';
import { projectRoot, sharedRoot, whyMissing, type TestRoot } from './support/roots';

interface LsRow {
  ID: string;
  Repository: string;
  Tag: string;
}
interface HistoryRow {
  ID: string;
  CreatedBy: string;
  CreatedAt: string;
  Size: string;
  Comment: string;
}
interface ImageJson {
  id: string;
  tags: string[];
  digests: string[];
  layers: number;
  created: string | null;
  size: number;
}
interface StepJson {
  index: number;
  id: string | null;
  diffId: string | null;
  createdBy: string;
  created: string | null;
  size: number;
  empty: boolean;
  imageId: string | null;
}

const jsonl = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);

const CASES: [string, () => TestRoot | undefined][] = [
  ['project overlay2', () => projectRoot('overlay2')],
  ['project vfs', () => projectRoot('vfs')],
  ['shared docker20-overlay2', () => sharedRoot('docker20-overlay2')],
];

for (const [name, get] of CASES) {
  test(`${name}: images, tags, layers, history and container diff equal the daemon's answers`, async (t) => {
    const r = get();
    if (!r) return t.skip(whyMissing(name.split(' ')[1]));
    await checkTruth(t, r);
  });
}

async function checkTruth(t: TestContext, r: TestRoot): Promise<void> {
  const root = ['--root', r.root];
  const images = await cliJson<ImageJson[]>([...root, 'images', '--all']);
  const ls = jsonl<LsRow>(path.join(r.truth, 'images.jsonl'));

  // Every image the daemon lists (with -a), and no other.
  const truthIds = [...new Set(ls.map((l) => l.ID))].sort();
  assert.deepEqual([...new Set(images.map((i) => i.id))].sort(), truthIds);

  // Without --all: what `docker images` shows (tagged and dangling, no intermediates).
  const visible = await cliJson<ImageJson[]>([...root, 'images']);
  for (const l of ls.filter((x) => x.Repository !== '<none>')) {
    assert.ok(visible.some((i) => i.id === l.ID), `tagged image ${l.Repository}:${l.Tag} is listed without --all`);
  }

  let historyChecked = 0;
  for (const file of readdirSync(r.truth).filter((f) => f.startsWith('inspect-'))) {
    const raw = JSON.parse(readFileSync(path.join(r.truth, file), 'utf8'));
    const inspect = Array.isArray(raw) ? raw[0] : raw;
    const image = images.find((i) => i.id === inspect.Id);
    assert.ok(image, `image ${inspect.Id} is read`);
    await t.test(`image ${inspect.Id.slice(7, 19)} ${inspect.RepoTags?.[0] ?? ''}`, async () => {
      assert.deepEqual([...image.tags].sort(), [...(inspect.RepoTags ?? [])].sort(), 'tags');
      assert.deepEqual([...image.digests].sort(), [...(inspect.RepoDigests ?? [])].sort(), 'digests');
      assert.equal(image.size, inspect.Size, 'size');
      assert.equal(image.created, inspect.Created, 'created');
      assert.equal(image.layers, inspect.RootFS.Layers.length, 'layer count');

      const steps = await cliJson<StepJson[]>([...root, 'layers', inspect.Id]);
      assert.deepEqual(
        steps.filter((s) => !s.empty).map((s) => s.diffId),
        inspect.RootFS.Layers,
        'non-empty steps carry the diff ids in order',
      );
      const history = jsonl<HistoryRow>(path.join(r.truth, `history-${inspect.Id.slice(7)}.jsonl`)).reverse();
      assert.equal(steps.length, history.length, 'one step per docker history row');
      history.forEach((h, i) => {
        const s = steps[i];
        assert.equal(s.createdBy, h.CreatedBy, `step ${i} created_by`);
        assert.equal(humanSize(s.size), h.Size, `step ${i} size`);
        assert.equal(s.imageId ?? '<missing>', h.ID, `step ${i} image id`);
        assert.equal(Math.floor(Date.parse(s.created ?? '') / 1000), Date.parse(h.CreatedAt) / 1000, `step ${i} created`);
        if (s.empty) assert.equal(s.id, null, `empty step ${i} has no layer`);
      });
      historyChecked++;
    });
  }
  assert.ok(historyChecked >= truthIds.length, 'every image has its history checked');

  // Containers: `docker diff` lines, in any order.
  for (const f of readdirSync(r.truth).filter((x) => x.startsWith('diff-') && x.endsWith('.txt'))) {
    const name = f.slice('diff-'.length, -'.txt'.length);
    const expected = readFileSync(path.join(r.truth, f), 'utf8').split('\n').filter(Boolean).sort();
    const containers = await cliJson<{ name: string; id: string; imageId: string; changes: { kind: string; path: string }[] }[]>([
      ...root,
      'containers',
    ]);
    const c = containers.find((x) => x.name === name);
    assert.ok(c, `container ${name} is read`);
    assert.deepEqual(c.changes.map((x) => `${x.kind} ${x.path}`).sort(), expected, `docker diff of ${name}`);
    const inspectFile = path.join(r.truth, `container-${name}.json`);
    if (existsSync(inspectFile)) {
      const raw = JSON.parse(readFileSync(inspectFile, 'utf8'));
      const ci = Array.isArray(raw) ? raw[0] : raw;
      assert.equal(c.id, ci.Id);
      assert.equal(c.imageId, ci.Image);
    }
    const files = await runCli([...root, 'files', name]);
    assert.equal(files.code, 0, files.stderr);
  }
}
