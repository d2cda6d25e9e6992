/**
 * The containerd reader on a real containerd 1.6.20 root in namespace `moby`
 * (../shared/fixtures), checked against `ctr images ls` / `ctr snapshots ls`
 * from the same daemon and against the root's own manifest and config blobs,
 * read here without the reader.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Image, Layer, Source, SourceContents } from '../../src/core/model';
import { ContainerdReader, detectContainerd } from '../../src/core/readers/containerd';
import { chainIds } from '../../src/core/readers/imageConfig';
import { v1Cmd } from '../../src/core/v1compat';
import { assertMobyCtrTruth, blobFile, blobJson, ctrTable as table, scratch, type SkipCtx } from './support/ctr';
import { sharedRoot, whyMissing, type TestRoot } from './support/roots';

/**
 * An extracted shared root (the data root itself and its inner truth folder),
 * or undefined after t.skip with the reason when it is not extracted.
 */
function fixture(t: SkipCtx, name: string): TestRoot | undefined {
  const r = sharedRoot(name);
  if (!r) t.skip(whyMissing(name));
  return r;
}

/**
 * containerd16-moby, or undefined (skipped). With `needTruth`, its `ctr` truth
 * must be there too: a root extracted without it is a broken extraction, which
 * fails rather than skips.
 */
function moby(t: SkipCtx, needTruth = false): TestRoot | undefined {
  const fx = fixture(t, 'containerd16-moby');
  if (fx && needTruth) assertMobyCtrTruth(fx.truth);
  return fx;
}

function source(root: string, dir = root, driver = 'overlayfs'): Source {
  const label = `containerd moby/${driver}`;
  return { key: `${root}#containerd:moby/${driver}`, root, kind: 'containerd', dir, driver, namespace: 'moby', label };
}

function layersOf(c: SourceContents, image: Image): Layer[] {
  const byKey = new Map(c.layers.map((l) => [l.key, l]));
  return image.layerKeys.map((k) => {
    const l = byKey.get(k);
    assert.ok(l, `layer ${k} of ${image.tags[0]} is listed`);
    return l;
  });
}

test('detectContainerd: a containerd root, a Docker root holding one, and Docker 20 (empty containerd/daemon)', async (t) => {
  const fx = moby(t);
  if (!fx) return;
  assert.deepEqual(await detectContainerd(fx.root), { dir: fx.root, namespaces: ['moby'] });

  // A Docker data root whose own containerd lives in containerd/daemon (links only; the fixture is not touched).
  const docker = scratch(t, 'containerd-test');
  mkdirSync(path.join(docker, 'containerd'));
  symlinkSync(fx.root, path.join(docker, 'containerd', 'daemon'));
  const nested = path.join(docker, 'containerd', 'daemon');
  assert.deepEqual(await detectContainerd(docker), { dir: nested, namespaces: ['moby'] });
  assert.equal(await detectContainerd(path.join(docker, 'containerd')), undefined);

  const d20 = fixture(t, 'docker20-overlay2');
  if (!d20) return;
  assert.ok(existsSync(path.join(d20.root, 'containerd', 'daemon', 'io.containerd.metadata.v1.bolt', 'meta.db')));
  assert.equal(await detectContainerd(d20.root), undefined);
});

test('containerd16-moby: images, layers and steps match ctr and the blobs', async (t) => {
  const fx = moby(t, true);
  if (!fx) return;
  const reader = new ContainerdReader(source(fx.root));
  const c = await reader.load();
  assert.deepEqual(c.problems, []);
  assert.deepEqual(c.containers, []);

  // Images and digests as `ctr images ls` lists them: the name's target is the manifest whose config is the image id.
  const truth = table(path.join(fx.truth, 'images.txt'));
  assert.deepEqual(c.images.flatMap((i) => i.tags).sort(), truth.map((r) => r[0]).sort());
  for (const [ref, , digest, , , platform] of truth) {
    const image = c.images.find((i) => i.tags.includes(ref));
    assert.ok(image, ref);
    assert.deepEqual(image.problems, [], ref);
    assert.deepEqual(image.digests, []);
    const manifest = blobJson(fx.root, digest);
    const config = blobJson(fx.root, manifest.config.digest);
    assert.equal(image.id, manifest.config.digest, ref);
    assert.equal(image.key, `${image.source.key}/${image.id}`);
    assert.equal(`${image.platform.os}/${image.platform.architecture}`, platform);
    assert.equal(image.created, config.created);

    // Layers: one per manifest layer and config diff id, in order, keyed by chain id.
    const layers = layersOf(c, image);
    const diffIds: string[] = config.rootfs.diff_ids;
    assert.equal(layers.length, manifest.layers.length, ref);
    assert.equal(layers.length, diffIds.length, ref);
    assert.deepEqual(layers.map((l) => l.diffId), diffIds);
    assert.deepEqual(layers.map((l) => l.id), chainIds(diffIds));
    layers.forEach((l, i) => {
      assert.equal(l.key, `${image.source.key}/${l.id}`);
      assert.equal(l.parentId, i ? layers[i - 1].id : undefined);
      assert.deepEqual(l.problems, []);
      assert.ok(l.content, `${l.id} has content`);
      assert.ok(statSync(l.content.dir).isDirectory(), l.content.dir);
      assert.match(l.content.dir, /io\.containerd\.snapshotter\.v1\.overlayfs\/snapshots\/\d+\/fs$/);
      assert.equal(l.content.form, 'diff');
      assert.equal(l.content.whiteouts, 'overlay');
      assert.deepEqual(l.content.lowerDirs, layers.slice(0, i).reverse().map((b) => b.content?.dir));
      assert.ok(l.size > 0, `${l.id} has a recorded usage`);
    });
    assert.equal(image.size, layers.reduce((s, l) => s + l.size, 0));

    // Steps: one per history entry, the non-empty ones taking the layers in order.
    assert.equal(image.steps.length, config.history.length, ref);
    assert.deepEqual(image.steps.map((s) => s.createdBy), config.history.map((h: { created_by: string }) => h.created_by));
    assert.deepEqual(image.steps.map((s) => s.empty), config.history.map((h: { empty_layer?: boolean }) => h.empty_layer === true));
    assert.deepEqual(image.steps.filter((s) => !s.empty).map((s) => s.layerKey), image.layerKeys);
    for (const s of image.steps) assert.equal(s.size, s.empty ? 0 : layers.find((l) => l.key === s.layerKey)?.size);

    // Documents: the top step is the config blob verbatim; the others are v1-compatible JSON.
    const top = await reader.document(image, image.steps.length - 1);
    assert.equal(top.kind, 'image-config');
    assert.equal(top.path, blobFile(fx.root, image.id));
    assert.equal(top.text, readFileSync(blobFile(fx.root, image.id), 'utf8'));
    assert.equal('sha256:' + createHash('sha256').update(top.text).digest('hex'), image.id);
    for (let i = 0; i < image.steps.length - 1; i++) {
      const doc = await reader.document(image, i);
      assert.equal(doc.kind, 'v1-compat');
      assert.equal(doc.path, undefined);
      const json = JSON.parse(doc.text);
      assert.deepEqual(json.container_config.Cmd, v1Cmd(image.steps[i].createdBy));
      assert.equal(json.throwaway, image.steps[i].empty ? true : undefined);
      if (!image.steps[i].empty) assert.equal(`sha256:${json.id}`, image.steps[i].layerKey?.split('/').pop());
      else assert.equal(json.id, undefined, 'an empty step made no layer');
      assert.equal(doc.text, (await reader.document(image, i)).text, 'deterministic');
    }
  }

  // `docker save` splits `/bin/sh -c …` into three words and wraps other steps in the shell.
  const cmdOf = async (tag: string, step: number) => {
    const image = c.images.find((i) => i.tags.includes(tag));
    assert.ok(image);
    return JSON.parse((await reader.document(image, step)).text).container_config.Cmd;
  };
  assert.deepEqual(await cmdOf('docker.io/library/dive-test:latest', 1), ['/bin/sh', '-c', '#(nop)  CMD ["sh"]']);
  assert.deepEqual(await cmdOf('docker.io/library/dive-test:kaniko-latest', 2), ['/bin/sh', '-c', 'ADD README.md /somefile.txt']);

  // Every committed snapshot ctr listed is the chain id of some image layer, and the other way round.
  const snaps = table(path.join(fx.truth, 'snapshots.txt'));
  const chains = new Set(c.images.flatMap((i) => layersOf(c, i).map((l) => l.id)));
  assert.deepEqual([...chains].sort(), snaps.filter((r) => r[r.length - 1] === 'Committed').map((r) => r[0]).sort());
  assert.equal(c.layers.length, snaps.length);
  for (const row of snaps) {
    const layer = c.layers.find((l) => l.id === row[0]);
    assert.equal(layer?.parentId, row.length === 3 ? row[1] : undefined, row[0]);
  }
  // Every snapshot folder on disk belongs to exactly one layer.
  const dirs = c.layers.map((l) => l.content?.dir);
  assert.equal(new Set(dirs).size, dirs.length);
  assert.equal(readdirSync(path.join(fx.root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots')).length, dirs.length);
});

test('containerd16-moby: layers without snapshots still appear, each with a problem', async (t) => {
  const fx = moby(t);
  if (!fx) return;
  // Nothing was unpacked with the native snapshotter.
  const c = await new ContainerdReader(source(fx.root, fx.root, 'native')).load();
  assert.equal(c.images.length, 3);
  assert.equal(c.layers.length, 31);
  for (const l of c.layers) {
    assert.equal(l.content, undefined);
    assert.equal(l.problems.length, 1);
    assert.equal(l.problems[0].code, 'not-found');
    assert.ok(l.size > 0, 'size from the content store');
  }
  for (const i of c.images) {
    assert.ok(i.steps.length > 0);
    assert.ok(i.problems.some((p) => p.code === 'not-found'));
  }
});

test('containerd16-moby: one image whose config blob is missing does not hide the others', async (t) => {
  const fx = moby(t);
  if (!fx) return;
  // A root made of links to the fixture, with one config blob left out.
  const root = scratch(t, 'containerd-test');
  for (const name of ['io.containerd.metadata.v1.bolt', 'io.containerd.snapshotter.v1.overlayfs']) {
    symlinkSync(path.join(fx.root, name), path.join(root, name));
  }
  const blobs = path.join(root, 'io.containerd.content.v1.content', 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const full = await new ContainerdReader(source(fx.root)).load();
  const victim = full.images.find((i) => i.tags.includes('docker.io/bazel/pkg/v1/mutate:whiteout_image'));
  assert.ok(victim);
  for (const hex of readdirSync(path.dirname(blobFile(fx.root, victim.id)))) {
    if (`sha256:${hex}` !== victim.id) symlinkSync(blobFile(fx.root, `sha256:${hex}`), path.join(blobs, hex));
  }

  const c = await new ContainerdReader(source(root)).load();
  assert.equal(c.images.length, 3);
  const broken = c.images.find((i) => i.tags.includes('docker.io/bazel/pkg/v1/mutate:whiteout_image'));
  assert.ok(broken);
  assert.equal(broken.problems.length, 1);
  assert.equal(broken.problems[0].code, 'not-found');
  assert.deepEqual(broken.steps, []);
  for (const i of c.images.filter((x) => x !== broken)) {
    assert.deepEqual(i.problems, []);
    assert.equal(i.steps.length, full.images.find((f) => f.id === i.id)?.steps.length);
  }
});
