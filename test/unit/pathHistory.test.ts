// Path history on the project's real roots: the histories the Dockerfiles in
// test/fixtures/images/ make by construction (dle/app:1, dle/waste:1, dle/cmp:b),
// the same answer from every layout that holds the image, agreement with the
// merged tree's changedIn, cancellation, and the `history` CLI.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LayerError } from '../../src/core/errors';
import { mergedTree } from '../../src/core/layerStack';
import type { Image } from '../../src/core/model';
import { imageOfContainer, imagePathHistory, imageStack, pathHistory, PathCursor, type StepVersion } from '../../src/core/pathHistory';
import { Store } from '../../src/core/store';
import { runCli } from './support/cli';
import { PROJECT_ROOTS, SHARED_ROOTS, projectRoot, sharedRoot, whyMissing, type ProjectRootName } from './support/roots';

const stores = new Map<string, Promise<Store>>();
function storeOf(name: ProjectRootName): Promise<Store> | undefined {
  const r = projectRoot(name);
  if (!r) return undefined;
  if (!stores.has(name)) stores.set(name, Store.open([r.root]));
  return stores.get(name);
}

function image(store: Store, tag: string): Image | undefined {
  return store.images.find((i) => i.tags.some((t) => t === tag || t.endsWith(`/${tag}`)));
}

/** The step whose command matches `re` (steps are found by what they do, never by a fixed index). */
function stepOf(img: Image, re: RegExp, from = 0): number {
  const i = img.steps.findIndex((s, k) => k >= from && re.test(s.createdBy));
  assert.ok(i >= 0, `a step matching ${re}`);
  return i;
}

async function historyOf(store: Store, img: Image, path: string): Promise<StepVersion[]> {
  const out: StepVersion[] = [];
  for await (const v of imagePathHistory(store, img, path)) out.push(v);
  return out;
}

/** `step change size` lines: what a history says, without the layer ids. */
const brief = (versions: StepVersion[]): string[] => versions.map((v) => `${v.step} ${v.change} ${v.change === 'deleted' ? '-' : v.size}`);

/** Legacy roots keep no commands: their steps are found by position in dle/app:1 (made by makeLegacyRoot.mjs from the same image). */
const hasCommands = (img: Image) => img.steps.some((s) => /echo overwritten/.test(s.createdBy));

test('PathCursor places entries in the walk order: depth first, names in code units, a folder before its children', () => {
  // A walk's order, with names that sort around "/" (".", "-", "0") and names that are prefixes of others.
  const walkOrder = ['/a', '/a/b', '/a/b/c', '/a/b/c/d', '/a/b/c0', '/a/b-c', '/a/b.c', '/a/bc', '/a-b', '/a.b', '/a0', '/b'];
  for (const target of walkOrder) {
    const cursor = new PathCursor(target);
    const i = walkOrder.indexOf(target);
    for (const [j, p] of walkOrder.entries()) {
      const want = p === target ? 'self' : target.startsWith(p + '/') ? 'ancestor' : j < i ? 'before' : p.startsWith(target + '/') ? 'inside' : 'after';
      const got = cursor.place(p);
      // Inside the path: never reached (a walk lists the path before its children, and stops there).
      if (want === 'inside') assert.notEqual(got, 'self', `${p} against ${target}`);
      else assert.equal(got, want, `${p} against ${target}`);
    }
  }
});

for (const name of PROJECT_ROOTS) {
  test(`${name}: /data/keep.txt in dle/app:1 is added by the COPY of rootfs and overwritten by the first RUN`, async (t) => {
    const store = await storeOf(name);
    if (!store) return t.skip(whyMissing(name));
    const img = image(store, 'dle/app:1');
    assert.ok(img, 'dle/app:1 is in the store');
    const versions = await historyOf(store, img, '/data/keep.txt');
    if (!hasCommands(img)) {
      assert.deepEqual(versions.map((v) => `${v.change} ${v.size}`), ['added 8', 'modified 12']);
      return;
    }
    const copy = stepOf(img, /COPY dir:/, 1);
    const run = stepOf(img, /echo overwritten > \/data\/keep\.txt/);
    assert.deepEqual(brief(versions), [`${copy} added 8`, `${run} modified 12`]);
    assert.equal(versions[1].type, 'file');
    assert.equal(versions[1].mode & 0o777, 0o644);
    assert.equal(versions[1].layerRef.key, img.steps[run].layerKey);
    assert.match(versions[1].createdBy, /echo overwritten/);
  });

  test(`${name}: a path below a deleted folder and one below an opaque folder count as deleted there`, async (t) => {
    const store = await storeOf(name);
    if (!store) return t.skip(whyMissing(name));
    const img = image(store, 'dle/app:1');
    assert.ok(img);
    const x = await historyOf(store, img, '/root/example/x');
    assert.deepEqual(x.map((v) => v.change), ['added', 'deleted']);
    const conf = await historyOf(store, img, '/etc/app/a.conf');
    assert.deepEqual(conf.map((v) => v.change), ['added', 'deleted']);
    const app = await historyOf(store, img, '/etc/app');
    assert.equal(app[app.length - 1].change === 'opaque' || app[app.length - 1].change === 'modified', true, `the replaced folder: ${brief(app)}`);
    if (hasCommands(img)) {
      assert.equal(x[1].step, stepOf(img, /rm -rf \/root\/example/));
      assert.equal(conf[1].step, stepOf(img, /rm -rf \/etc\/app/));
    }
    // A diff layer records the deletion on the folder: the history says which.
    if (img.steps[x[1].step] && store.layer(img.steps[x[1].step].layerKey)?.content?.form === 'diff') {
      assert.equal(x[1].via, '/root/example');
      assert.equal(conf[1].via, '/etc/app');
    }
    assert.deepEqual(await historyOf(store, img, '/no/such/path'), []);
  });
}

for (const name of ['overlay2', 'vfs'] as const) {
  test(`${name}: /waste/big in dle/waste:1 is added (100,000 bytes), modified (50,000), deleted`, async (t) => {
    const store = await storeOf(name);
    if (!store) return t.skip(whyMissing(name));
    const img = image(store, 'dle/waste:1');
    assert.ok(img, 'dle/waste:1 is in the store');
    const add = stepOf(img, /head -c 100000/);
    const mod = stepOf(img, /head -c 50000/);
    const del = stepOf(img, /rm \/waste\/big/);
    assert.deepEqual(brief(await historyOf(store, img, '/waste/big')), [`${add} added 100000`, `${mod} modified 50000`, `${del} deleted -`]);
    assert.deepEqual(brief(await historyOf(store, img, '/waste/kept')), [`${stepOf(img, /head -c 10000 /)} added 10000`]);
  });

  test(`${name}: /cmp/opq/o1.txt in dle/cmp:b is deleted by the opaque replace of /cmp/opq; the symlink's target change is a modification`, async (t) => {
    const store = await storeOf(name);
    if (!store) return t.skip(whyMissing(name));
    const img = image(store, 'dle/cmp:b');
    assert.ok(img, 'dle/cmp:b is in the store');
    const made = stepOf(img, /echo o1 > \/cmp\/opq\/o1\.txt/);
    const replaced = stepOf(img, /rm -rf \/cmp\/opq && mkdir \/cmp\/opq/);
    const o1 = await historyOf(store, img, '/cmp/opq/o1.txt');
    assert.deepEqual(brief(o1), [`${made} added 3`, `${replaced} deleted -`]);
    if (name === 'overlay2') assert.equal(o1[1].via, '/cmp/opq', 'deleted with its opaque folder');
    const n = await historyOf(store, img, '/cmp/opq/n.txt');
    assert.deepEqual(brief(n), [`${replaced} added 2`]);
    const link = await historyOf(store, img, '/cmp/link');
    assert.deepEqual(link.map((v) => `${v.step} ${v.change} ${v.target}`), [`${made} added /data/keep.txt`, `${replaced} modified /data/new.txt`]);
    const mode = await historyOf(store, img, '/cmp/mode.txt');
    assert.deepEqual(mode.map((v) => (v.mode & 0o777).toString(8)), ['644', '755']);
    assert.deepEqual(brief(await historyOf(store, img, '/cmp/same.txt')), [`${made} added 2`]);
  });

  test(`${name}: every file's history in dle/app:1 is the merged tree's changedIn`, async (t) => {
    const store = await storeOf(name);
    if (!store) return t.skip(whyMissing(name));
    const img = image(store, 'dle/app:1');
    assert.ok(img);
    const { contents, steps } = imageStack(store, img);
    const tree = await mergedTree(contents.map((c) => c!));
    let checked = 0;
    for (const e of tree.each()) {
      if (e.type === 'dir' || (e.path.startsWith('/bin/') && e.path !== '/bin/busybox' && e.path !== '/bin/sh')) continue;
      const versions = await historyOf(store, img, e.path);
      assert.deepEqual(versions.map((v) => v.step), e.changedIn.map((i) => steps[i]), e.path);
      assert.equal(versions[versions.length - 1].step, steps[e.layer], `${e.path}: the last version is the visible one`);
      checked++;
    }
    assert.ok(checked >= 8, `${checked} files checked`);
  });
}

for (const name of ['overlay2', 'vfs'] as const) {
  test(`${name}: a container's history ends with its own read-write layer, as docker diff says`, async (t) => {
    const store = await storeOf(name);
    if (!store) return t.skip(whyMissing(name));
    const container = store.findContainer('dle-ctr');
    const img = imageOfContainer(store, container);
    assert.ok(img, 'the container image is in the store');
    const truth = fs.readFileSync(path.join(projectRoot(name)!.truth, 'diff-dle-ctr.txt'), 'utf8').split('\n').filter(Boolean);
    assert.ok(truth.length >= 3);
    const letter = { added: 'A', modified: 'C', opaque: 'C', deleted: 'D' } as const;
    for (const line of truth) {
      const p = line.slice(2);
      const versions: StepVersion[] = [];
      for await (const v of imagePathHistory(store, img, p, { container })) versions.push(v);
      const last = versions[versions.length - 1];
      assert.equal(last.container, container, `${p}: the container changed it last`);
      assert.equal(last.step, img.steps.length);
      assert.equal(`${letter[last.change]} ${p}`, line);
      // Below the container, the image's own history.
      const imageOnly: number[] = [];
      for await (const v of imagePathHistory(store, img, p)) imageOnly.push(v.step);
      assert.deepEqual(versions.slice(0, -1).map((v) => v.step), imageOnly, p);
    }
    const cli = await runCli(['--root', projectRoot(name)!.root, 'history', 'dle-ctr', '/data/new.txt']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout.trim().split('\n').pop()!, /^ctr\s+\S+\s+D\s.*container dle-ctr$/);
  });
}

for (const name of SHARED_ROOTS) {
  test(`shared ${name}: file histories agree with the merged tree's changedIn (aufs and overlay whiteouts, captured roots)`, async (t) => {
    const r = sharedRoot(name);
    if (!r) return t.skip(whyMissing(name));
    const store = await Store.open([r.root]);
    let checked = 0;
    for (const img of store.images.slice(0, 2)) {
      const { contents, steps } = imageStack(store, img);
      if (contents.some((c) => !c)) continue;
      const tree = await mergedTree(contents.map((c) => c!), { stat: false });
      // The files more than one step touched, and a few others (each history walks its layers up to the path).
      const all = [...tree.each()].filter((e) => e.type !== 'dir');
      const files = [...all.filter((e) => e.changedIn.length > 1).slice(0, 8), ...all.filter((_, i) => i % Math.ceil(all.length / 4) === 0)];
      for (const e of files) {
        const versions = await historyOf(store, img, e.path);
        assert.deepEqual(versions.map((v) => v.step), e.changedIn.map((i) => steps[i]), `${img.tags[0] ?? img.id} ${e.path}`);
        checked++;
      }
    }
    assert.ok(checked > 0, 'some files were checked');
  });
}

test('a cancelled history stops with a cancelled error; a path with .. is refused', async (t) => {
  const store = await storeOf('overlay2');
  if (!store) return t.skip(whyMissing('overlay2'));
  const img = image(store, 'dle/app:1')!;
  const controller = new AbortController();
  controller.abort();
  const stack = imageStack(store, img).contents;
  await assert.rejects(
    (async () => {
      for await (const _ of pathHistory(stack, '/data/keep.txt', { signal: controller.signal }));
    })(),
    (err: unknown) => err instanceof LayerError && err.code === 'cancelled',
  );
  await assert.rejects(
    (async () => {
      for await (const _ of pathHistory(stack, '/data/../etc/passwd'));
    })(),
    (err: unknown) => err instanceof LayerError && err.code === 'invalid-id',
  );
});

test('a layer whose folder is missing is reported and the rest of the history still comes', async (t) => {
  const store = await storeOf('overlay2');
  if (!store) return t.skip(whyMissing('overlay2'));
  const img = image(store, 'dle/app:1')!;
  const stack = imageStack(store, img).contents;
  const broken = stack.map((c, i) => (i === 0 ? { ...c!, dir: c!.dir + '-missing' } : c));
  const problems: number[] = [];
  const versions = [];
  for await (const v of pathHistory(broken, '/data/keep.txt', { onProblem: (layer) => problems.push(layer) })) versions.push(v);
  assert.deepEqual(problems, [0]);
  assert.deepEqual(versions.map((v) => v.change), ['added', 'modified']);
});

test('CLI history: the table, --json, exit 1 when no step touched the path, exit 2 without a path', async (t) => {
  const r = projectRoot('overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const table = await runCli(['--root', r.root, 'history', 'dle/waste:1', '/waste/big']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0], /^STEP\s+LAYER\s+CHANGE\s+SIZE\s+MODE\s+COMMAND$/);
  assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)[2]), ['A', 'M', 'D']);
  assert.match(lines[1], /100kB\s+-rw-r--r--\s+RUN mkdir \/waste/);
  const json = await runCli(['--root', r.root, '--json', 'history', 'dle/cmp:b', '/cmp/opq/o1.txt']);
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.command, 'history');
  assert.deepEqual(doc.versions.map((v: { change: string; via: string | null }) => `${v.change} ${v.via}`), ['added null', 'deleted /cmp/opq']);
  const none = await runCli(['--root', r.root, 'history', 'dle/app:1', '/no/such']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no step of dle\/app:1 adds, changes or deletes \/no\/such/);
  const usage = await runCli(['--root', r.root, 'history', 'dle/app:1']);
  assert.equal(usage.code, 2);
});
