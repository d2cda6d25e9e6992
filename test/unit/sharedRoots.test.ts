/**
 * Every real root the tests know (the project's own and ../shared/fixtures)
 * opens through Store.open with nothing wrong: no root error, images with
 * steps, not one Problem, every container's read-write layer on disk, and
 * exactly the containers and tags the root's own files name. The captured
 * roots with no daemon truth (dex-aufs.v2, dex-overlay2.v2) are checked
 * against their files: repositories.json, imagedb, config.v2.json,
 * layerdb/mounts.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { BoltDb } from '../../src/core/bbolt';
import { walkLayer } from '../../src/core/layerWalk';
import type { Container, Source } from '../../src/core/model';
import { Store } from '../../src/core/store';
import { PROJECT_ROOTS, SHARED_ROOTS, projectRoot, sharedRoot, whyMissing, type TestRoot } from './support/roots';

const HEX64 = /^[0-9a-f]{64}$/;

interface Case {
  name: string;
  label: string;
  get: () => TestRoot | undefined;
}

const CASES: Case[] = [
  ...PROJECT_ROOTS.map((name) => ({ name, label: `project ${name}`, get: () => projectRoot(name) })),
  ...SHARED_ROOTS.map((name) => ({ name, label: `shared ${name}`, get: () => sharedRoot(name) })),
];

/** The layouts each root holds (README of each fixture); any other source found is a detection error. */
const LAYOUTS: Record<string, string[]> = {
  overlay2: ['image/overlay2'],
  vfs: ['image/vfs'],
  containerd: ['containerd moby/overlayfs'],
  legacy: ['graph (aufs)'],
  'docker20-overlay2': ['image/overlay2'],
  'containerd16-moby': ['containerd moby/overlayfs'],
  'dex-aufs.v1': ['graph (aufs)'],
  'dex-aufs.v2': ['image/aufs'],
  // image/overlay/ exists too, with an empty imagedb: no images, so no layout.
  'dex-overlay2.v2': ['image/overlay2'],
};

/**
 * Problems a fixture legitimately has, as `code: message` lines. None do: every
 * root loads clean. Add a line here (with why) rather than loosening the check.
 */
const EXPECTED_PROBLEMS: Record<string, string[]> = {};

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const readTrim = (file: string) => readFileSync(file, 'utf8').trim();
const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const sorted = <T>(xs: Iterable<T>) => [...xs].sort();

/** Every Problem anywhere in the store, one line each (image problems repeat their layers'; deduplicated). */
function allProblems(store: Store): string[] {
  const lines = new Set<string>();
  const add = (where: string, ps: readonly { code: string; message: string }[]) => {
    for (const p of ps) lines.add(`${p.code}: ${p.message} [${where}]`);
  };
  add('store', store.problems);
  for (const i of store.images) add(`image ${i.tags[0] ?? i.id}`, i.problems);
  for (const l of store.layers) add(`layer ${l.id}`, l.problems);
  for (const c of store.containers) add(`container ${c.name || c.id}`, c.problems);
  return [...lines];
}

/**
 * The folders of `<root>/containers` that one of the root's layouts owns: a
 * legacy graph owns those with `config.json`, a content-addressed image store
 * those with `layerdb/mounts/<id>`.
 */
function ownedContainerDirs(root: string, sources: readonly Source[]): string[] {
  const dir = path.join(root, 'containers');
  if (!isDir(dir)) return [];
  return readdirSync(dir)
    .filter((id) => isDir(path.join(dir, id)))
    .filter((id) =>
      sources.some((s) =>
        s.kind === 'legacy-graph'
          ? existsSync(path.join(dir, id, 'config.json'))
          : s.kind === 'image-db'
            ? isDir(path.join(s.dir, 'layerdb', 'mounts', id))
            : false,
      ),
    )
    .sort();
}

/** Container ids meta.db records for a containerd source (read with the bbolt reader alone). */
async function containerdContainers(source: Source): Promise<string[]> {
  const db = await BoltDb.open(path.join(source.dir, 'io.containerd.metadata.v1.bolt', 'meta.db'));
  try {
    return db.bucket(['v1', source.namespace ?? 'default', 'containers'])?.bucketNames() ?? [];
  } finally {
    db.close();
  }
}

/** Image names meta.db records for a containerd source. */
async function containerdImageNames(source: Source): Promise<string[]> {
  const db = await BoltDb.open(path.join(source.dir, 'io.containerd.metadata.v1.bolt', 'meta.db'));
  try {
    return db.bucket(['v1', source.namespace ?? 'default', 'images'])?.bucketNames() ?? [];
  } finally {
    db.close();
  }
}

interface ContainerConfig {
  ID?: string;
  Name?: string;
  Image?: string;
  Config?: { Image?: string };
}

function containerConfig(root: string, id: string): ContainerConfig {
  const dir = path.join(root, 'containers', id);
  const file = ['config.v2.json', 'config.json'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  assert.ok(file, `containers/${id} has a config`);
  return readJson<ContainerConfig>(file);
}

/** repo:tag / repo@digest → image id, from the layout's own tag file. */
function tagFile(root: string, source: Source): Map<string, string> {
  const out = new Map<string, string>();
  if (source.kind === 'image-db') {
    const file = path.join(source.dir, 'repositories.json');
    const repos = readJson<{ Repositories?: Record<string, Record<string, string>> }>(file).Repositories ?? {};
    for (const refs of Object.values(repos)) for (const [ref, id] of Object.entries(refs)) out.set(ref, id);
  } else if (source.kind === 'legacy-graph') {
    const file = path.join(root, `repositories-${source.driver}`);
    const repos = readJson<{ Repositories?: Record<string, Record<string, string>> }>(file).Repositories ?? {};
    for (const [repo, tags] of Object.entries(repos)) for (const [tag, id] of Object.entries(tags)) out.set(`${repo}:${tag}`, id);
  }
  return out;
}

/** Image ids the layout holds, from its files: one per imagedb config, one per graph entry. */
function imageIdsOnDisk(source: Source): string[] {
  if (source.kind === 'image-db') {
    return readdirSync(path.join(source.dir, 'imagedb', 'content', 'sha256')).filter((n) => HEX64.test(n)).map((n) => `sha256:${n}`);
  }
  if (source.kind === 'legacy-graph') return readdirSync(source.dir).filter((n) => HEX64.test(n));
  return [];
}

function checkContainerLayer(c: Container): void {
  assert.ok(c.layer, `container ${c.name} has a read-write layer`);
  assert.ok(c.layer.content, `container ${c.name}'s read-write layer has content`);
  assert.ok(isDir(c.layer.content.dir), `container ${c.name}: ${c.layer.content.dir} is a folder`);
}

for (const { name, label, get } of CASES) {
  test(`${label}: opens through Store.open with images, steps, containers and no problem`, async (t) => {
    const r = get();
    if (!r) return t.skip(whyMissing(name));
    await checkRoot(t, name, r);
  });
}

async function checkRoot(t: TestContext, name: string, r: TestRoot): Promise<void> {
  const store = await Store.open([r.root]);
  assert.equal(store.roots.length, 1);
  assert.equal(store.roots[0].error, undefined, store.roots[0].error?.message);
  assert.deepEqual(store.sources.map((s) => s.label).sort(), sorted(LAYOUTS[name]), 'layouts found');

  const problems = allProblems(store);
  for (const p of problems) t.diagnostic(p);
  assert.deepEqual(problems, EXPECTED_PROBLEMS[name] ?? [], `problems of ${name}:\n${problems.join('\n')}`);

  assert.ok(store.images.length > 0, 'at least one image');
  for (const i of store.images) assert.ok(i.steps.length > 0, `image ${i.tags[0] ?? i.id} has steps`);

  // Images and tags, from the layouts' own files.
  await t.test('images and tags are those the root\'s files name', async () => {
    for (const s of store.sources) {
      const images = store.images.filter((i) => i.source.key === s.key);
      if (s.kind === 'containerd') {
        const names = (await containerdImageNames(s)).filter((n) => !n.startsWith('moby-dangling@'));
        assert.deepEqual(sorted(images.flatMap((i) => [...i.tags, ...i.digests])), sorted(names), `${s.label}: names in meta.db`);
        continue;
      }
      assert.deepEqual(sorted(images.map((i) => i.id)), sorted(imageIdsOnDisk(s)), `${s.label}: one image per config on disk`);
      const refs = tagFile(r.root, s);
      assert.ok(refs.size > 0, `${s.label}: the tag file names images`);
      for (const [ref, id] of refs) {
        const image = images.find((i) => i.id === id);
        assert.ok(image, `${ref} → ${id} is an image`);
        assert.ok((ref.includes('@') ? image.digests : image.tags).includes(ref), `${ref} is a name of ${id}`);
      }
      assert.equal(
        images.reduce((n, i) => n + i.tags.length + i.digests.length, 0),
        refs.size,
        `${s.label}: no name but those in the tag file`,
      );
    }
  });

  // Containers: exactly the folders the layouts own, each with its read-write layer on disk.
  await t.test('containers are the folders the layouts own, each read-write layer on disk', async (st) => {
    const owned = ownedContainerDirs(r.root, store.sources);
    const fromContainerd = (await Promise.all(store.sources.filter((s) => s.kind === 'containerd').map(containerdContainers))).flat();
    const expected = sorted([...owned, ...fromContainerd]);
    st.diagnostic(`${expected.length} containers expected (${owned.length} in containers/, ${fromContainerd.length} in meta.db)`);
    assert.equal(store.containers.length, expected.length, 'container count');
    assert.deepEqual(sorted(store.containers.map((c) => c.id)), expected);
    for (const c of store.containers) {
      checkContainerLayer(c);
      if (c.source.kind === 'containerd') continue;
      // Name and image as config(.v2).json records them.
      const cfg = containerConfig(r.root, c.id);
      assert.equal(c.name, (cfg.Name ?? '').replace(/^\//, ''), `name of ${c.id}`);
      assert.equal(c.imageId, cfg.Image, `image id of ${c.name}`);
      assert.equal(c.imageRef, cfg.Config?.Image, `image reference of ${c.name}`);
      const image = store.images.find((i) => i.id === cfg.Image);
      assert.ok(image, `the image of ${c.name} (${cfg.Image}) is read`);
      if (c.source.kind === 'image-db') {
        // layerdb/mounts/<id>: the read-write layer is `mount-id` over the image's top layer `parent`.
        const mounts = path.join(c.source.dir, 'layerdb', 'mounts', c.id);
        assert.equal(c.layer?.id, readTrim(path.join(mounts, 'mount-id')), `mount id of ${c.name}`);
        assert.equal(c.layer?.parentId, readTrim(path.join(mounts, 'parent')), `parent layer of ${c.name}`);
        assert.equal(c.layer?.parentKey, image.layerKeys[image.layerKeys.length - 1], `${c.name} runs over its image's top layer`);
      } else {
        assert.equal(c.layer?.parentId, image.id, `${c.name} runs over its image's top graph entry`);
      }
    }
  });

  // Every image layer and container layer has its folder and walks without a problem.
  await t.test('every layer\'s content is on disk and walks without a problem', async () => {
    const keys = [...new Set(store.images.flatMap((i) => i.layerKeys))];
    const walked = [...keys.map((k) => store.layer(k)), ...store.containers.map((c) => c.layer)];
    const problems: string[] = [];
    for (const l of walked) {
      assert.ok(l, 'every layer key and container layer resolves');
      assert.ok(l.content, `layer ${l.id} has content`);
      assert.ok(isDir(l.content.dir), `layer ${l.id}: ${l.content.dir} is a folder`);
      for await (const _ of walkLayer(l.content, { onProblem: (p) => problems.push(`${l.id}: ${p.code} ${p.path}: ${p.message}`) })) {
        void _;
      }
    }
    assert.deepEqual(problems, []);
  });
}

test('dex-aufs.v2 and dex-overlay2.v2: what their files say, spelled out', async (t) => {
  // Derived from the captured roots' own files (no daemon recorded truth for them):
  // repositories.json, imagedb/content, containers/*/config.v2.json, layerdb/mounts.
  for (const name of ['dex-aufs.v2', 'dex-overlay2.v2']) {
    await t.test(name, async (tt) => {
      const r = sharedRoot(name);
      if (!r) return tt.skip(whyMissing(name));
      const driver = name === 'dex-aufs.v2' ? 'aufs' : 'overlay2';
      const dir = path.join(r.root, 'image', driver);
      const repos = readJson<{ Repositories: Record<string, Record<string, string>> }>(path.join(dir, 'repositories.json')).Repositories;
      const byId = new Map<string, string[]>();
      for (const refs of Object.values(repos)) for (const [ref, id] of Object.entries(refs)) byId.set(id, [...(byId.get(id) ?? []), ref].sort());
      const containerIds = readdirSync(path.join(r.root, 'containers')).filter((id) => HEX64.test(id)).sort();
      assert.ok(byId.size > 0 && containerIds.length > 0, 'the files name images and containers');

      const store = await Store.open([r.root]);
      const images = store.images;
      assert.deepEqual(sorted(images.map((i) => i.id)), sorted(byId.keys()), 'one image, the tagged one');
      for (const i of images) assert.deepEqual(sorted([...i.tags, ...i.digests]), byId.get(i.id));

      assert.deepEqual(sorted(store.containers.map((c) => c.id)), containerIds);
      for (const id of containerIds) {
        const cfg: ContainerConfig = readJson<ContainerConfig>(path.join(r.root, 'containers', id, 'config.v2.json'));
        assert.ok(existsSync(path.join(dir, 'layerdb', 'mounts', id, 'mount-id')), `layerdb/mounts/${id}`);
        const c = store.containers.find((x) => x.id === id);
        assert.ok(c);
        assert.equal(c.name, cfg.Name?.replace(/^\//, ''));
        assert.equal(c.imageId, cfg.Image);
        assert.ok(byId.has(c.imageId ?? ''), `${c.name} runs the tagged image`);
        checkContainerLayer(c);
      }
      tt.diagnostic(`${images.length} image(s), ${store.containers.length} containers: ${store.containers.map((c) => c.name).sort().join(', ')}`);
    });
  }
});

/**
 * A root upgraded in place from Docker ≤ 1.9 keeps `graph/` (containers with
 * `config.json`) beside `image/aufs/` (containers with `config.v2.json` and
 * `layerdb/mounts/<id>`). Made here from dex-aufs.v1 and dex-aufs.v2 (copies of
 * their index files only; content folders are not needed to list containers).

 */
test('an upgraded root (graph/ beside image/aufs/) lists each container once', async (t) => {
  const v1 = sharedRoot('dex-aufs.v1');
  if (!v1) return t.skip(whyMissing('dex-aufs.v1'));
  const v2 = sharedRoot('dex-aufs.v2');
  if (!v2) return t.skip(whyMissing('dex-aufs.v2'));
  const root = mkdtempSync(path.join(os.tmpdir(), 'upgraded-root-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  cpSync(path.join(v1.root, 'graph'), path.join(root, 'graph'), { recursive: true });
  cpSync(path.join(v1.root, 'repositories-aufs'), path.join(root, 'repositories-aufs'));
  cpSync(path.join(v2.root, 'image'), path.join(root, 'image'), { recursive: true });
  for (const from of [v1.root, v2.root]) {
    for (const id of readdirSync(path.join(from, 'containers'))) {
      mkdirSync(path.join(root, 'containers', id), { recursive: true });
      for (const f of ['config.json', 'config.v2.json']) {
        if (existsSync(path.join(from, 'containers', id, f))) cpSync(path.join(from, 'containers', id, f), path.join(root, 'containers', id, f));
      }
    }
  }

  const store = await Store.open([root]);
  assert.deepEqual(store.sources.map((s) => s.label).sort(), ['graph (aufs)', 'image/aufs']);
  const owned = ownedContainerDirs(root, store.sources);
  assert.equal(owned.length, 10, '3 legacy (config.json) + 7 content-addressed (layerdb/mounts)');
  const bySource = (kind: Source['kind']) => sorted(store.containers.filter((c) => c.source.kind === kind).map((c) => c.id));
  assert.deepEqual(bySource('legacy-graph'), sorted(readdirSync(path.join(v1.root, 'containers'))), 'graph (aufs) owns the config.json containers');
  assert.deepEqual(bySource('image-db'), sorted(readdirSync(path.join(v2.root, 'containers'))), 'image/aufs owns the layerdb/mounts containers');
  assert.equal(store.containers.length, owned.length, 'each container once');
  assert.deepEqual(store.containers.flatMap((c) => c.problems.map((p) => `${c.name}: ${p.code}`)), []);
});
