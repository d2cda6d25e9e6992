/**
 * The CLI against what a real Docker daemon answered for the same root, as
 * recorded in a truth folder: images.jsonl (`docker image ls -a`),
 * inspect-<id>.json (`docker image inspect`), history-<id>.jsonl
 * (`docker history --no-trunc`), diff-<name>.txt (`docker diff`) and
 * container-<name>.json (`docker container inspect`). Used by
 * dockerTruth.test.ts (the project's and shared roots) and sampleRoot.test.ts
 * (the shipped sample root).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { humanSize } from '../../../src/core/format';
import { cliJson, runCli } from './cli';

/** A row of `docker image ls -a --format '{{json .}}'`. */
export interface LsRow {
  ID: string;
  Repository: string;
  Tag: string;
}
/** A row of `docker history --no-trunc --format '{{json .}}'`. */
export interface HistoryRow {
  ID: string;
  CreatedBy: string;
  CreatedAt: string;
  Size: string;
  Comment: string;
}
/** An image as `docker-layers images --json` prints it. */
export interface ImageJson {
  id: string;
  tags: string[];
  digests: string[];
  layers: number;
  created: string | null;
  size: number;
}
/** A step as `docker-layers layers <image> --json` prints it. */
export interface StepJson {
  index: number;
  id: string | null;
  diffId: string | null;
  createdBy: string;
  created: string | null;
  size: number;
  empty: boolean;
  imageId: string | null;
  comment?: string;
}
/** A file as `docker-layers files … --json` prints it. */
export interface FileJson {
  path: string;
  status: string;
  type: string;
  size: number;
  target?: string;
}
/** A container as `docker-layers containers --json` prints it. */
export interface ContainerJson {
  id: string;
  name: string;
  imageId: string;
  changes: { kind: string; path: string }[];
}

/** The JSON values of a JSON-lines file, blank lines skipped. */
export const jsonl = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);

/** A `docker … inspect` file: its first element when it holds an array. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an inspect file is read loosely, as before
export function readInspect(file: string): any {
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  return Array.isArray(raw) ? raw[0] : raw;
}

export interface TruthOptions {
  /** Compare each step's comment with the history row's (when the CLI prints one). */
  checkComments?: boolean;
  /** Exactly one history check per image the daemon lists (else at least one). */
  exactHistoryCount?: boolean;
  /** Containers whose diff-<name>.txt and container-<name>.json must be in the truth folder. */
  requiredContainers?: string[];
}

/**
 * Images (with and without --all), each inspected image's tags, digests, size,
 * created, layers and every history row (one subtest per image), then each
 * container's `docker diff`, identity (when inspected) and file listing.
 */
export async function checkTruth(t: TestContext, root: string, truthDir: string, options: TruthOptions = {}): Promise<void> {
  const r = ['--root', root];
  const { images } = await cliJson<{ images: ImageJson[] }>([...r, 'images', '--all']);
  const ls = jsonl<LsRow>(path.join(truthDir, 'images.jsonl'));
  const truthIds = [...new Set(ls.map((l) => l.ID))].sort();
  assert.deepEqual([...new Set(images.map((i) => i.id))].sort(), truthIds, 'every image the daemon lists, and no other');

  // Without --all: what `docker images` shows (tagged and dangling, no intermediates).
  const visible = (await cliJson<{ images: ImageJson[] }>([...r, 'images'])).images;
  for (const l of ls.filter((x) => x.Repository !== '<none>')) {
    assert.ok(visible.some((i) => i.id === l.ID), `tagged image ${l.Repository}:${l.Tag} is listed without --all`);
  }

  let historyChecked = 0;
  for (const file of readdirSync(truthDir).filter((f) => f.startsWith('inspect-'))) {
    const inspect = readInspect(path.join(truthDir, file));
    const image = images.find((i) => i.id === inspect.Id);
    assert.ok(image, `image ${inspect.Id} is read`);
    await t.test(`image ${inspect.Id.slice(7, 19)} ${inspect.RepoTags?.[0] ?? ''}`, async () => {
      assert.deepEqual([...image.tags].sort(), [...(inspect.RepoTags ?? [])].sort(), 'tags');
      assert.deepEqual([...image.digests].sort(), [...(inspect.RepoDigests ?? [])].sort(), 'digests');
      assert.equal(image.size, inspect.Size, 'size');
      assert.equal(image.created, inspect.Created, 'created');
      assert.equal(image.layers, inspect.RootFS.Layers.length, 'layer count');

      const { steps } = await cliJson<{ steps: StepJson[] }>([...r, 'layers', inspect.Id]);
      assert.deepEqual(
        steps.filter((s) => !s.empty).map((s) => s.diffId),
        inspect.RootFS.Layers,
        'non-empty steps carry the diff ids in order',
      );
      const history = jsonl<HistoryRow>(path.join(truthDir, `history-${inspect.Id.slice(7)}.jsonl`)).reverse();
      assert.equal(steps.length, history.length, 'one step per docker history row');
      history.forEach((h, i) => {
        const s = steps[i];
        assert.equal(s.createdBy, h.CreatedBy, `step ${i} created_by`);
        assert.equal(humanSize(s.size), h.Size, `step ${i} size`);
        assert.equal(s.imageId ?? '<missing>', h.ID, `step ${i} image id`);
        assert.equal(Math.floor(Date.parse(s.created ?? '') / 1000), Date.parse(h.CreatedAt) / 1000, `step ${i} created`);
        if (options.checkComments && s.comment !== undefined) assert.equal(s.comment ?? '', h.Comment, `step ${i} comment`);
        if (s.empty) assert.equal(s.id, null, `empty step ${i} has no layer`);
      });
      historyChecked++;
    });
  }
  if (options.exactHistoryCount) assert.equal(historyChecked, truthIds.length, 'every image has its history checked');
  else assert.ok(historyChecked >= truthIds.length, 'every image has its history checked');

  // Containers: `docker diff` lines, in any order, and their identity.
  const diffFiles = readdirSync(truthDir).filter((x) => x.startsWith('diff-') && x.endsWith('.txt'));
  for (const name of options.requiredContainers ?? []) {
    assert.ok(diffFiles.includes(`diff-${name}.txt`), `the truth holds diff-${name}.txt`);
    assert.ok(existsSync(path.join(truthDir, `container-${name}.json`)), `the truth holds container-${name}.json`);
  }
  for (const f of diffFiles) {
    const name = f.slice('diff-'.length, -'.txt'.length);
    const expected = readFileSync(path.join(truthDir, f), 'utf8').split('\n').filter(Boolean).sort();
    const { containers } = await cliJson<{ containers: ContainerJson[] }>([...r, 'containers']);
    const c = containers.find((x) => x.name === name);
    assert.ok(c, `container ${name} is read`);
    assert.deepEqual(c.changes.map((x) => `${x.kind} ${x.path}`).sort(), expected, `docker diff of ${name}`);
    const inspectFile = path.join(truthDir, `container-${name}.json`);
    if (existsSync(inspectFile)) {
      const ci = readInspect(inspectFile);
      assert.equal(c.id, ci.Id);
      assert.equal(c.imageId, ci.Image);
    }
    const files = await runCli([...r, 'files', name]);
    assert.equal(files.code, 0, files.stderr);
  }
}
