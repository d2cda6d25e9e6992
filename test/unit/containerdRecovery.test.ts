/**
 * A containerd root whose meta.db cannot name its images still lists them,
 * from the content store, with their layers and files: the hostile cases
 * `containerd-meta-db-leaf-page` (the images bucket's page overwritten) and
 * `containerd-meta-db-root-page` (the root bucket's page overwritten), and a
 * copy whose meta.db has no valid meta page at all, each checked against the
 * undamaged project root it was copied from: the same ids, steps, layers
 * (chain ids, diff ids, parents, sizes, snapshot folders) and files, minus
 * the names, which only meta.db held. Also, on copies made here: the
 * namespace and snapshot folders taken from the snapshotter's own keys, a
 * damaged snapshotter metadata.db, and the content-store scan itself (an
 * index as the target, symlinks and odd names skipped).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { walkLayer } from '../../src/core/layerWalk';
import type { Image, Layer } from '../../src/core/model';
import { ContainerdReader, detectContainerd } from '../../src/core/readers/containerd';
import { recoverTargets } from '../../src/core/readers/containerdRecovery';
import { Store } from '../../src/core/store';
import { runCli } from './support/cli';
import { blobFile, ctrTable, scratch } from './support/ctr';
import { hostileCorpus, type HostileCase } from './support/hostile';
import { projectRoot, whyMissing, type TestRoot } from './support/roots';

const META_DB = path.join('io.containerd.metadata.v1.bolt', 'meta.db');
const NAMELESS = 'listed from the content store, its names are unknown';

/** The case from the corpus, or undefined after t.skip with the reason. */
function hostileCase(t: { skip: (m: string) => void }, name: string): HostileCase | undefined {
  const corpus = hostileCorpus();
  if (typeof corpus === 'string') return void t.skip(corpus);
  const c = corpus.cases.find((x) => x.name === name);
  assert.ok(c, `the corpus has ${name}`);
  return c;
}

/** A layer as a root-independent record: ids, size, where its files are under the root, and the files. */
async function layerRecord(root: string, layer: Layer) {
  const files: string[] = [];
  if (layer.content) {
    for await (const e of walkLayer(layer.content)) files.push(`${e.status} ${e.type} ${e.size} ${e.mode} ${e.uid}:${e.gid} ${e.mtimeMs} ${e.path} ${e.target ?? ''}`);
  }
  return {
    id: layer.id,
    diffId: layer.diffId,
    parentId: layer.parentId,
    size: layer.size,
    empty: layer.empty,
    dir: layer.content ? path.relative(root, layer.content.dir) : undefined,
    problems: layer.problems.map((p) => p.message),
    files,
  };
}

/** An image as a root-independent record, without its names. */
async function imageRecord(store: Store, root: string, image: Image) {
  const layers = [];
  for (const key of image.layerKeys) layers.push(await layerRecord(root, store.layer(key)!));
  return {
    id: image.id,
    created: image.created,
    size: image.size,
    platform: image.platform,
    steps: image.steps.map((s) => [s.createdBy, s.empty, s.layerKey && store.layer(s.layerKey)?.id]),
    layers,
  };
}

/**
 * Opens `root` and the undamaged project root and checks that `root` lists
 * the same images (ids, steps, layers, files) with no names, each with the
 * problem saying why; returns the damaged store's problems.
 */
async function assertRecovered(undamaged: TestRoot, root: string): Promise<string[]> {
  const [good, bad] = await Promise.all([Store.open([undamaged.root]), Store.open([root])]);
  assert.deepEqual(bad.roots.map((r) => r.error?.message), [undefined], 'the root is readable');
  assert.deepEqual(bad.sources.map((s) => [s.kind, s.namespace]), [['containerd', 'moby']]);
  const ids = (s: Store) => s.images.map((i) => i.id).sort();
  assert.equal(good.images.length, 3);
  assert.deepEqual(ids(bad), ids(good), 'the same images');
  for (const image of bad.images) {
    const same = good.images.find((i) => i.id === image.id)!;
    assert.ok(same.tags.length > 0, 'the undamaged root names it');
    assert.deepEqual([image.tags, image.digests], [[], []], 'its names were in meta.db only');
    const why = image.problems.filter((p) => p.message.includes(NAMELESS));
    assert.equal(why.length, 1, `${image.id}: ${image.problems.map((p) => p.message).join('\n')}`);
    assert.match(why[0].message, /^meta\.db is corrupt \(.+\); listed from the content store/);
    assert.equal(why[0].subject, image.id);
    // Everything but the names: same steps, layers, snapshot folders and files; no other problem.
    assert.deepEqual(image.problems.filter((p) => !p.message.includes(NAMELESS)), []);
    assert.deepEqual(await imageRecord(bad, root, image), await imageRecord(good, undamaged.root, same));
  }
  return bad.problems.map((p) => p.message);
}

for (const [name, lost] of [
  ['containerd-meta-db-leaf-page', ['image names']],
  ['containerd-meta-db-root-page', ['image names', 'snapshot keys', 'containers', 'content records']],
] as const) {
  test(`${name}: the images, layers and files of the undamaged root, unnamed`, { timeout: 60_000 }, async (t) => {
    const undamaged = projectRoot('containerd');
    if (!undamaged) return t.skip(whyMissing('containerd'));
    const c = hostileCase(t, name);
    if (!c) return;
    const problems = await assertRecovered(undamaged, c.root);
    // The source says which page failed and what the namespace lost.
    const page = problems.find((m) => /meta\.db is corrupt: .*page \d+/.test(m));
    assert.ok(page, `a problem names the damaged page:\n${problems.join('\n')}`);
    const summary = problems.find((m) => m.includes('lost from namespace moby'));
    assert.ok(summary, problems.join('\n'));
    for (const what of lost) assert.ok(summary.includes(what), `${what} lost: ${summary}`);
    assert.equal(['image names', 'snapshot keys', 'containers', 'content records'].filter((w) => summary.includes(w)).length, lost.length, summary);
    assert.ok(summary.includes('3 images listed from the content store'), summary);

    // Detection: still containerd, namespace moby (from meta.db, or from the snapshotter's keys).
    assert.deepEqual(await detectContainerd(c.root), { dir: c.root, namespaces: ['moby'] });
  });

  test(`${name}: the CLI lists the recovered images and exits 0`, { timeout: 60_000 }, async (t) => {
    const undamaged = projectRoot('containerd');
    if (!undamaged) return t.skip(whyMissing('containerd'));
    const c = hostileCase(t, name);
    if (!c) return;
    const list = await runCli(['--root', c.root, 'images', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const images = (JSON.parse(list.stdout) as { images: { id: string; tags: string[]; problems: string[] }[] }).images;
    const good = (JSON.parse((await runCli(['--root', undamaged.root, 'images', '--json'])).stdout) as { images: { id: string }[] }).images;
    assert.deepEqual(images.map((i) => i.id).sort(), good.map((i) => i.id).sort());
    for (const i of images) {
      assert.deepEqual(i.tags, []);
      assert.ok(i.problems.some((p) => p.includes(NAMELESS)), i.problems.join('\n'));
    }
    const text = await runCli(['--root', c.root, 'images']);
    assert.equal(text.code, 0);
    assert.equal(text.stdout.split('\n').filter((l) => l.startsWith('<none> ')).length, 3, text.stdout);
    assert.match(text.stderr, /meta\.db is corrupt/);

    // An image by id: the same steps as on the undamaged root, and the same files in its top layer.
    for (const { id } of images) {
      const steps = async (root: string) => {
        const r = await runCli(['--root', root, 'layers', id, '--json']);
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { steps: unknown[] }).steps;
      };
      assert.deepEqual(await steps(c.root), await steps(undamaged.root), id);
    }
    const top = images[0].id;
    const files = async (root: string) => (await runCli(['--root', root, 'files', `${top}@0`, '--json'])).stdout;
    assert.equal(await files(c.root), await files(undamaged.root));
  });
}

test('a meta.db with no valid meta page: the store is still read, from the content store and the snapshotter', { timeout: 60_000 }, async (t) => {
  const undamaged = projectRoot('containerd');
  if (!undamaged) return t.skip(whyMissing('containerd'));
  const root = path.join(scratch(t, 'containerd-recovery'), 'root');
  execFileSync('cp', ['-a', undamaged.root, root]);
  const file = path.join(root, META_DB);
  const bytes = readFileSync(file);
  const pageSize = bytes.readUInt32LE(24);
  // Both meta pages' magic numbers spoilt: nothing of the file can be trusted.
  bytes.writeUInt32LE(0, 16);
  bytes.writeUInt32LE(0, pageSize + 16);
  writeFileSync(file, bytes);

  assert.deepEqual(await detectContainerd(root), { dir: root, namespaces: ['moby'] });
  const problems = await assertRecovered(undamaged, root);
  assert.ok(problems.some((m) => m.includes('not a valid bbolt database')), problems.join('\n'));
  assert.deepEqual(readFileSync(file), bytes, 'meta.db is never written');
});

test("the snapshotter's metadata.db damaged: images keep their names, each layer says its snapshot may be on a damaged page", { timeout: 60_000 }, async (t) => {
  const undamaged = projectRoot('containerd');
  if (!undamaged) return t.skip(whyMissing('containerd'));
  const root = path.join(scratch(t, 'containerd-recovery'), 'root');
  execFileSync('cp', ['-a', undamaged.root, root]);
  const file = path.join(root, 'io.containerd.snapshotter.v1.overlayfs', 'metadata.db');
  const bytes = readFileSync(file);
  const pageSize = bytes.readUInt32LE(24);
  // Every page holding the snapshotter's own keys (`moby/<n>/sha256:…`), headers overwritten.
  let pages = 0;
  for (let p = 2; (p + 1) * pageSize <= bytes.length; p++) {
    if (bytes.subarray(p * pageSize, (p + 1) * pageSize).indexOf('moby/') < 0) continue;
    bytes.write('JUNKJUNKJUNKJUNK', p * pageSize, 'latin1');
    pages++;
  }
  assert.ok(pages > 0, 'a page holds the snapshot keys');
  writeFileSync(file, bytes);

  const store = await Store.open([root]);
  const good = await Store.open([undamaged.root]);
  assert.deepEqual(store.images.flatMap((i) => i.tags).sort(), good.images.flatMap((i) => i.tags).sort(), 'meta.db still names them');
  assert.ok(store.problems.some((p) => p.message.includes('metadata.db is corrupt') && /page \d+/.test(p.message)), store.problems.map((p) => p.message).join('\n'));
  const layers = store.layers.filter((l) => l.source.kind === 'containerd');
  assert.equal(layers.length, good.layers.length);
  for (const l of layers) {
    assert.equal(l.content, undefined, `${l.id}: its snapshot's folder is not known`);
    assert.ok(l.problems.some((p) => p.message.includes('may be on a damaged page')), `${l.id}: ${l.problems.map((p) => p.message).join('; ')}`);
  }
});

test("meta.db's root page lost: the namespace comes from the snapshotter's keys, and so do the layers' folders", { timeout: 60_000 }, async (t) => {
  const undamaged = projectRoot('containerd');
  if (!undamaged) return t.skip(whyMissing('containerd'));
  const c = hostileCase(t, 'containerd-meta-db-root-page');
  if (!c) return;
  const root = path.join(scratch(t, 'containerd-recovery'), 'root');
  execFileSync('cp', ['-a', c.root, root]);
  // The snapshotter's keys moved to namespace `nerd` (same length: the keys keep their order, the pages their checks).
  const file = path.join(root, 'io.containerd.snapshotter.v1.overlayfs', 'metadata.db');
  const bytes = readFileSync(file);
  let renamed = 0;
  for (let at = bytes.indexOf('moby/'); at >= 0; at = bytes.indexOf('moby/', at + 5), renamed++) bytes.write('nerd/', at, 'latin1');
  assert.ok(renamed >= 8, `${renamed} keys renamed`);
  writeFileSync(file, bytes);

  assert.deepEqual(await detectContainerd(root), { dir: root, namespaces: ['nerd'] });
  const [store, good] = await Promise.all([Store.open([root]), Store.open([undamaged.root])]);
  assert.deepEqual(store.sources.map((s) => s.namespace), ['nerd']);
  assert.deepEqual(store.images.map((i) => i.id).sort(), good.images.map((i) => i.id).sort());
  const dirs = (s: Store, r: string) => s.layers.map((l) => [l.id, l.content && path.relative(r, l.content.dir)]).sort();
  assert.deepEqual(dirs(store, root), dirs(good, undamaged.root), 'every layer found its snapshot folder through the renamed keys');
});

test('recovery from the content store: an index is the target, not the manifests it lists; odd blobs are skipped, never followed', { timeout: 60_000 }, async (t) => {
  const undamaged = projectRoot('containerd');
  if (!undamaged) return t.skip(whyMissing('containerd'));
  const root = path.join(scratch(t, 'containerd-recovery'), 'root');
  execFileSync('cp', ['-a', undamaged.root, root]);
  // The manifests as ctr listed them when the root was made: ref → manifest digest.
  const manifests = new Map(ctrTable(path.join(undamaged.truth, 'images.txt')).map((row) => [row[0], row[2]]));
  const app1 = manifests.get('docker.io/dle/app:1')!;
  // An OCI index over dle/app:1's manifest and an arm64 one the store does not hold (as a pull of one platform leaves it).
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: app1, size: readFileSync(blobFile(root, app1)).length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'ab'.repeat(32)}`, size: 1000, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  }));
  const indexDigest = 'sha256:' + createHash('sha256').update(index).digest('hex');
  writeFileSync(blobFile(root, indexDigest), index);
  // A symlink with a digest's name pointing at a manifest outside the store, and a name that is no digest.
  const outside = path.join(path.dirname(root), 'outside.json');
  writeFileSync(outside, readFileSync(blobFile(root, app1)));
  symlinkSync(outside, blobFile(root, 'cd'.repeat(32)));
  writeFileSync(path.join(path.dirname(blobFile(root, app1)), 'not-a-digest'), readFileSync(blobFile(root, app1)));

  const found = await recoverTargets(root, undefined);
  assert.deepEqual(found.problems, []);
  const expected = [indexDigest, manifests.get('docker.io/dle/base:1'), manifests.get('docker.io/dle/app:2')].sort();
  assert.deepEqual(found.targets.map((d) => d.digest).sort(), expected, 'the index, not the manifest it lists; no symlink, no odd name');
  assert.equal(found.targets.find((d) => d.digest === indexDigest)?.mediaType, 'application/vnd.oci.image.index.v1+json');
  // Only what the namespace owns, when meta.db says: nothing here.
  assert.deepEqual((await recoverTargets(root, new Set())).targets, []);

  // Through the reader, with meta.db unreadable as a whole: the index's platform is picked as for a named image.
  const meta = path.join(root, META_DB);
  writeFileSync(meta, Buffer.alloc(readFileSync(meta).length, 0x5a));
  const source = { key: `${root}#containerd:moby/overlayfs`, root, kind: 'containerd' as const, dir: root, driver: 'overlayfs', namespace: 'moby', label: 'containerd moby/overlayfs' };
  const reader = new ContainerdReader(source, { platform: { os: 'linux', architecture: 'amd64' } });
  const contents = await reader.load();
  const good = await Store.open([undamaged.root]);
  assert.deepEqual(contents.images.map((i) => i.id).sort(), good.images.map((i) => i.id).sort());
  const app1Id = good.images.find((i) => i.tags.includes('docker.io/dle/app:1'))!.id;
  assert.deepEqual(reader.otherPlatforms(app1Id), ['linux/arm64/v8'], 'dle/app:1 was read through the index');
});
