// Image archives as read-only roots: `docker save` of every generation and OCI
// layouts (folder or tar), read in place. What the core and the CLI say is
// checked against what each archive's own manifest and config say (read here
// with the system's tar, not with our reader), and the project's own
// `docker save` against the overlay2 root the same daemon wrote and its answers.
// Variants (an OCI folder, gzip and zstd layers, a ≤ 1.9 archive, a truncated
// one, a multi-platform index, hostile names) are made here from those archives.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { pack } from 'tar-stream';
import { readLayerFile, statLayerPath, listLayerDir } from '../../src/core/layerFiles';
import { walkLayer, type LayerEntry } from '../../src/core/layerWalk';
import { listMergedDir, resolveMerged } from '../../src/core/mergedPath';
import type { Image, LayerContent } from '../../src/core/model';
import { Store } from '../../src/core/store';
import { tarLayerIndex } from '../../src/core/tar/layerIndex';
import { cliJson, runCli } from './support/cli';
import { jsonl, readInspect, type FileJson, type HistoryRow, type ImageJson, type StepJson } from './support/dockerTruth';
import { humanSize } from '../../src/core/format';
import { projectRoot, repoRoot, whyMissing } from './support/roots';

const ARCHIVES = path.join(repoRoot, '..', 'shared', 'fixtures', 'archives');
const SAVE = path.join(repoRoot, '.cache', 'roots', 'save-docker20.tar');
const FIXTURES = ['dive-test-docker-image.tar', 'ggcr-hello-world-v25.tar', 'dive-test-oci-uncompressed-image.tar', 'ggcr-whiteout_image.tar'];
const OCI_TAR = path.join(ARCHIVES, 'dive-test-oci-uncompressed-image.tar');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'archives-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const hasArchives = fs.existsSync(ARCHIVES);
const noArchives = hasArchives ? false : `${ARCHIVES} is not beside the repo`;

/** A member's bytes, read by the system's tar (independent of our reader). */
const member = (archive: string, name: string): Buffer => execFileSync('tar', ['-xOf', archive, name], { maxBuffer: 1 << 28 });
const memberJson = (archive: string, name: string) => JSON.parse(member(archive, name).toString('utf8'));
const sha256 = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');
const md5File = (f: string): string => crypto.createHash('md5').update(fs.readFileSync(f)).digest('hex');

interface Expected {
  id: string;
  tags: string[];
  config: any;
}

/** What an archive says its images are: manifest.json, else index.json → manifest → config. */
function expectedImages(archive: string): Expected[] {
  const names = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).split('\n');
  if (names.includes('manifest.json')) {
    return memberJson(archive, 'manifest.json').map((e: any) => ({
      id: `sha256:${/([0-9a-f]{64})/.exec(e.Config)![1]}`,
      tags: e.RepoTags ?? [],
      config: memberJson(archive, e.Config),
    }));
  }
  const index = memberJson(archive, 'index.json');
  return index.manifests.map((d: any) => {
    const manifest = memberJson(archive, `blobs/sha256/${d.digest.slice(7)}`);
    return { id: manifest.config.digest, tags: [], config: memberJson(archive, `blobs/sha256/${manifest.config.digest.slice(7)}`) };
  });
}

async function allEntries(content: LayerContent, signal?: AbortSignal): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for await (const e of walkLayer(content, { signal })) out.push(e);
  return out;
}

for (const name of FIXTURES) {
  test(`${name}: images, tags, layers and history as its manifest and config say, through the core and the CLI`, { skip: noArchives }, async () => {
    const archive = path.join(ARCHIVES, name);
    const before = md5File(archive);
    const expected = expectedImages(archive);
    assert.ok(expected.length > 0);
    const store = await Store.open([archive]);
    assert.deepEqual(store.roots[0].error, undefined);
    assert.deepEqual(store.sources.map((s) => s.kind), ['archive']);
    assert.deepEqual(store.images.map((i) => i.id).sort(), expected.map((e) => e.id).sort(), 'every image of the archive, and no other');
    const { images } = await cliJson<{ images: ImageJson[] }>(['--root', archive, 'images', '--all']);
    for (const e of expected) {
      const image = store.images.find((i) => i.id === e.id)!;
      assert.deepEqual(image.problems, [], `${e.id}: no problem`);
      assert.deepEqual(image.tags, [...e.tags].sort(), 'tags');
      assert.deepEqual(images.find((i) => i.id === e.id)?.tags, [...e.tags].sort(), 'CLI tags');
      const { steps } = await cliJson<{ steps: StepJson[] }>(['--root', archive, 'layers', e.id]);
      assert.deepEqual(steps.filter((s) => !s.empty).map((s) => s.diffId), e.config.rootfs.diff_ids, 'non-empty steps carry the diff ids in order');
      const history: any[] = e.config.history ?? [];
      if (history.length > 0) {
        assert.deepEqual(steps.map((s) => s.createdBy), history.map((h) => h.created_by ?? ''), 'one step per history entry');
        assert.deepEqual(steps.map((s) => s.empty), history.map((h) => h.empty_layer === true), 'empty steps where the history says');
      }
      // Every layer's own files can be walked, and the top step's document is the config, verbatim.
      for (const key of image.layerKeys) {
        const layer = store.layer(key)!;
        assert.ok(layer.content?.tar, `${layer.id}: its content is a tar blob`);
        const problems: string[] = [];
        for await (const _ of walkLayer(layer.content, { onProblem: (p) => problems.push(p.message) }));
        assert.deepEqual(problems, [], `${layer.id}: walked without problems`);
      }
      const top = await store.document({ image, stepIndex: image.steps.length - 1 });
      if (top.kind === 'image-config') assert.equal(sha256(top.text), e.id.slice(7), 'the top step is the image config, verbatim');
    }
    assert.equal(md5File(archive), before, 'the archive is unchanged');
  });
}

test('save-docker20.tar agrees with the overlay2 root the same daemon wrote, and with its answers', async (t) => {
  const overlay2 = projectRoot('overlay2');
  if (!overlay2 || !fs.existsSync(SAVE)) return t.skip(overlay2 ? `${SAVE} is not made: run test/fixtures/makeRoots.sh` : whyMissing('overlay2'));
  const rootDir: string = overlay2.root;
  const truthDir: string = overlay2.truth;
  const saved = await Store.open([SAVE]);
  const disk = await Store.open([rootDir]);
  assert.equal(saved.images.length, 3);
  for (const image of saved.images) {
    await t.test(image.tags.join(' '), async () => {
      const inspect = readInspect(path.join(truthDir, `inspect-${image.id.slice(7)}.json`));
      assert.equal(image.id, inspect.Id);
      for (const tag of image.tags) assert.ok(inspect.RepoTags.includes(tag), `${tag} is one of the daemon's tags`);
      assert.equal(image.size, inspect.Size, 'size');
      assert.equal(image.created, inspect.Created, 'created');
      const layers = image.layerKeys.map((k) => saved.layer(k)!);
      assert.deepEqual(layers.map((l) => l.diffId), inspect.RootFS.Layers, 'diff ids');
      const onDisk = disk.findImage(image.id);
      assert.deepEqual(layers.map((l) => l.id), onDisk.layerKeys.map((k) => disk.layer(k)!.id), 'layer ids are the chain ids of the root');
      const history = jsonl<HistoryRow>(path.join(truthDir, `history-${image.id.slice(7)}.jsonl`)).reverse();
      assert.equal(image.steps.length, history.length, 'one step per docker history row');
      history.forEach((h, i) => {
        const s = image.steps[i];
        assert.equal(s.createdBy, h.CreatedBy, `step ${i} created_by`);
        assert.equal(humanSize(s.size), h.Size, `step ${i} size`);
        assert.equal(Math.floor(Date.parse(s.created ?? '') / 1000), Date.parse(h.CreatedAt) / 1000, `step ${i} created`);
      });
      assert.equal(image.steps[image.steps.length - 1].imageId, image.id, 'the top step is the image');
      // Each layer's own files, as the CLI lists them, equal the same layer read from the overlay2 root.
      for (let i = 0; i < image.steps.length; i++) {
        if (image.steps[i].empty) continue;
        const ref = `${image.id}@${i}`;
        const a: { files: FileJson[] } = await cliJson<{ files: FileJson[] }>(['--root', SAVE, 'files', ref]);
        const b: { files: FileJson[] } = await cliJson<{ files: FileJson[] }>(['--root', rootDir, 'files', ref]);
        assert.deepEqual(a.files, b.files, `files of step ${i}`);
      }
    });
  }
  // One file's bytes, a symlink's target and a merged lookup: the same from the archive as from the root.
  const image = saved.findImage('dle/app:2');
  const rootImage = disk.findImage('dle/app:2');
  const contents = (s: Store, i: Image) => i.layerKeys.map((k) => s.layer(k)!.content!).reverse();
  for (const p of ['/etc/passwd', '/data/keep.txt', '/app/version.txt', '/etc/app/c.conf', '/data/shadow-link']) {
    const a = await resolveMerged(contents(saved, image), p);
    const b = await resolveMerged(contents(disk, rootImage), p);
    assert.ok(a && b, `${p} is in the merged view`);
    assert.equal(a.layerIndex, b.layerIndex, `${p} comes from the same layer`);
    assert.equal(a.stat.type, b.stat.type, p);
    assert.equal(a.stat.target, b.stat.target, p);
    const ra = await readLayerFile(contents(saved, image)[a.layerIndex], p);
    const rb = await readLayerFile(contents(disk, rootImage)[b.layerIndex], p);
    assert.deepEqual(ra.kind === 'file' ? Buffer.from(ra.data) : ra.target, rb.kind === 'file' ? Buffer.from(rb.data) : rb.target, `${p}: same bytes`);
  }
  for (const dir of ['/', '/etc', '/etc/app', '/data']) {
    const names = (l: { name: string; layerIndex: number }[]) => l.map((e) => `${e.name}@${e.layerIndex}`);
    assert.deepEqual(names(await listMergedDir(contents(saved, image), dir)), names(await listMergedDir(contents(disk, rootImage), dir)), `merged ${dir}`);
  }
  // The same image's documents: the top is the image config the root holds, byte for byte.
  const top = await saved.document({ image, stepIndex: image.steps.length - 1 });
  assert.equal(top.kind, 'image-config');
  assert.equal(top.text, (await disk.document({ image: rootImage, stepIndex: rootImage.steps.length - 1 })).text);
  const below = await saved.document({ image, stepIndex: 3 });
  assert.equal(below.kind, 'v1-compat');
  assert.equal(JSON.parse(below.text).id, saved.layer(image.steps[3].layerKey)!.id.slice(7), 'a lower step is the v1-compatible JSON of its chain id');
});

test('whiteouts in archives become deletions: in the layer, and in the merged view', { skip: noArchives }, async () => {
  const ggcr = path.join(ARCHIVES, 'ggcr-whiteout_image.tar');
  const files = (ref: string, archive = ggcr) => cliJson<{ files: FileJson[] }>(['--root', archive, 'files', ref]).then((r) => r.files);
  const middle = await files('bazel/pkg/v1/mutate:whiteout_image@1');
  assert.deepEqual(middle.map((f) => `${f.status} ${f.path}`), ['deleted /foo.txt'], 'the second layer deletes /foo.txt through .wh.foo.txt');
  assert.equal(middle[0].type, 'file', 'the deleted entry has the type it had below');
  const store = await Store.open([ggcr]);
  const image = store.images[0];
  // Top first: an empty layer, the one with the whiteout, the base.
  const stack = image.layerKeys.map((k) => store.layer(k)!.content!).reverse();
  assert.equal(await resolveMerged(stack, '/foo.txt'), undefined, 'gone from the merged view');
  assert.equal((await resolveMerged(stack, '/bar.txt'))?.layerIndex, 2, '/bar.txt stays, from the base');
  assert.equal((await resolveMerged(stack.slice(2), '/foo.txt'))?.layerIndex, 0, 'there in the base');
  assert.deepEqual((await listMergedDir(stack, '/')).map((e) => e.name), ['bar.txt']);
  await assert.rejects(readLayerFile(stack[1], '/foo.txt'), /was deleted in this layer/);
  assert.equal((await statLayerPath(stack[1], '/foo.txt')).deleted, true);
  assert.deepEqual((await listLayerDir(stack[1], '/')).map((e) => `${e.name} ${e.deleted}`), ['foo.txt true']);

  const dive = path.join(ARCHIVES, 'dive-test-docker-image.tar');
  const rm = await files('dive-test@10', dive);
  assert.ok(rm.some((f) => f.path === '/root/example' && f.status === 'deleted' && f.type === 'dir'), 'rm -rf /root/example is a deleted folder');
  const mv = await files('dive-test@8', dive);
  assert.ok(mv.some((f) => f.path === '/root/example/somefile3.txt' && f.status === 'deleted'), 'mv deletes the source');
  assert.ok(mv.some((f) => f.path === '/root/saved.txt' && f.status === 'added'), 'and adds the target');
});

/** Extracts the OCI-layout tar into a folder (a root of its own). */
function ociFolder(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xf', OCI_TAR, '-C', dir]);
  return dir;
}

/** Writes a blob into an OCI folder; returns its digest. */
function putBlob(dir: string, data: Buffer | string): string {
  const hex = sha256(data);
  fs.writeFileSync(path.join(dir, 'blobs', 'sha256', hex), data);
  return `sha256:${hex}`;
}

/** The OCI folder with its one layer recompressed by `compress` (manifest and index rewritten to match). */
function recompressed(name: string, compress: (layer: Buffer) => Buffer, mediaType: string): string {
  const dir = ociFolder(name);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const mDigest = index.manifests[0].digest;
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'blobs', 'sha256', mDigest.slice(7)), 'utf8'));
  const layer = fs.readFileSync(path.join(dir, 'blobs', 'sha256', manifest.layers[0].digest.slice(7)));
  const packed = compress(layer);
  manifest.layers[0] = { mediaType, digest: putBlob(dir, packed), size: packed.length };
  const text = JSON.stringify(manifest);
  index.manifests[0] = { ...index.manifests[0], digest: putBlob(dir, text), size: Buffer.byteLength(text) };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  return dir;
}

/** zstd, from Debian's package (installed when missing and we may). */
function zstdTool(): string | undefined {
  const has = () => !spawnSync('zstd', ['--version'], { stdio: 'ignore' }).error;
  if (has()) return 'zstd';
  if (process.getuid?.() === 0) spawnSync('apt-get', ['install', '-y', '-qq', 'zstd'], { stdio: 'ignore' });
  return has() ? 'zstd' : undefined;
}

test('an OCI-layout folder, its tar, and gzip and zstd layers all read the same as the uncompressed layer', { skip: noArchives }, async (t) => {
  const zstd = zstdTool();
  const plain = ociFolder('plain');
  const variants: [string, string][] = [
    ['OCI tar', OCI_TAR],
    ['OCI folder', plain],
    ['gzip layer', recompressed('gzip', (b) => zlib.gzipSync(b), 'application/vnd.oci.image.layer.v1.tar+gzip')],
  ];
  if (zstd) {
    variants.push(['zstd layer', recompressed('zstd', (b) => execFileSync(zstd, ['-q', '-c'], { input: b }), 'application/vnd.oci.image.layer.v1.tar+zstd')]);
    // The zstd folder packed as a tar: a compressed blob inside an archive.
    const packed = path.join(tmp, 'zstd-oci.tar');
    execFileSync('tar', ['-cf', packed, '-C', path.join(tmp, 'zstd'), '.']);
    variants.push(['zstd layer in a tar', packed]);
  } else {
    t.diagnostic('zstd is not installed and cannot be (not root): the zstd variants are not checked');
  }
  const reference = await Store.open([OCI_TAR]);
  const refLayer = reference.layer(reference.images[0].layerKeys[0])!;
  const refEntries = await allEntries(refLayer.content!);
  const refFiles = refEntries.filter((e) => e.type === 'file');
  assert.ok(refFiles.length > 0);
  for (const [label, root] of variants) {
    const store = await Store.open([root]);
    assert.equal(store.roots[0].error, undefined, label);
    assert.deepEqual(store.problems, [], label);
    assert.deepEqual(store.images.map((i) => i.id), reference.images.map((i) => i.id), `${label}: the same image`);
    const layer = store.layer(store.images[0].layerKeys[0])!;
    assert.equal(layer.diffId, refLayer.diffId, label);
    assert.deepEqual(await allEntries(layer.content!), refEntries, `${label}: the same entries`);
    for (const f of refFiles) {
      const a = await readLayerFile(layer.content!, f.path);
      const b = await readLayerFile(refLayer.content!, f.path);
      assert.ok(a.kind === 'file' && b.kind === 'file');
      assert.deepEqual(Buffer.from(a.data), Buffer.from(b.data), `${label}: ${f.path} has the same bytes`);
    }
    const cli = await cliJson<{ files: FileJson[] }>(['--root', root, 'files', store.images[0].id]);
    assert.deepEqual(cli.files.map((f) => f.path), refEntries.map((e) => e.path), `${label}: the CLI lists the same files`);
  }
});

test('a multi-platform index lists each platform\'s image', { skip: noArchives }, async () => {
  const dir = ociFolder('multi');
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const arm = index.manifests[0];
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'blobs', 'sha256', arm.digest.slice(7)), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8'));
  const amdConfig = JSON.stringify({ ...config, architecture: 'amd64' });
  const amdManifest = JSON.stringify({ ...manifest, config: { ...manifest.config, digest: putBlob(dir, amdConfig), size: amdConfig.length } });
  const list = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { ...arm, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: arm.mediaType, digest: putBlob(dir, amdManifest), size: amdManifest.length, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  });
  const top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: putBlob(dir, list), size: list.length, annotations: { 'io.containerd.image.name': 'docker.io/example/multi:1', 'org.opencontainers.image.ref.name': '1' } };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [top] }));
  const store = await Store.open([dir]);
  assert.deepEqual(store.problems, []);
  assert.deepEqual(store.images.map((i) => i.platform.architecture).sort(), ['amd64', 'arm64']);
  for (const i of store.images) assert.deepEqual(i.tags, ['docker.io/example/multi:1']);
  const r = await runCli(['--root', dir, 'layers', 'example/multi:1']);
  assert.equal(r.code, 1, 'one tag for two platforms is ambiguous: give the id');
  assert.match(r.stderr, /matches 2 images/);
});

test('a docker save of Docker ≤ 1.9 (no manifest.json): legacy layer JSON verbatim, tags from repositories', { skip: noArchives }, async () => {
  // The Docker 18 save without what 1.10 added (manifest.json, <config>.json), packed again.
  const dir = path.join(tmp, 'legacy-save');
  fs.mkdirSync(dir);
  execFileSync('tar', ['-xf', path.join(ARCHIVES, 'dive-test-docker-image.tar'), '-C', dir]);
  for (const n of fs.readdirSync(dir)) if (n === 'manifest.json' || /^[0-9a-f]{64}\.json$/.test(n)) fs.rmSync(path.join(dir, n));
  const legacy = path.join(tmp, 'legacy-save.tar');
  execFileSync('tar', ['-cf', legacy, '-C', dir, ...fs.readdirSync(dir).sort()]);
  const repositories = memberJson(legacy, 'repositories');
  const topId: string = repositories['dive-test'].latest;
  const store = await Store.open([legacy]);
  assert.deepEqual(store.problems, []);
  assert.deepEqual(store.images.map((i) => [i.id, i.tags]), [[topId, ['dive-test:latest']]]);
  const image = store.images[0];
  assert.equal(image.steps.length, 14);
  for (let i = 0; i < image.steps.length; i++) {
    const doc = await store.document({ image, stepIndex: i });
    assert.equal(doc.kind, 'legacy-json');
    assert.equal(doc.text, member(legacy, `${image.steps[i].imageId}/json`).toString('utf8'), `step ${i}: <id>/json verbatim`);
  }
  const json = await cliJson<{ kind: string }>(['--root', legacy, 'json', 'dive-test@3']);
  assert.equal(json.kind, 'legacy-json');
  // Its layers, bottom first, hold what the same layers of the manifest.json archive hold.
  const withManifest = await Store.open([path.join(ARCHIVES, 'dive-test-docker-image.tar')]);
  const other = withManifest.images[0];
  assert.equal(image.layerKeys.length, other.layerKeys.length);
  for (let i = 0; i < image.layerKeys.length; i++) {
    const a = await allEntries(store.layer(image.layerKeys[i])!.content!);
    const b = await allEntries(withManifest.layer(other.layerKeys[i])!.content!);
    assert.deepEqual(a, b, `layer ${i}`);
  }
});

test('a truncated archive says so, naming it, and still lists what it holds', async (t) => {
  if (!fs.existsSync(SAVE)) return t.skip(`${SAVE} is not made: run test/fixtures/makeRoots.sh`);
  // Cut in the middle of the biggest layer.tar, found by the system's tar (`-R`: each member's block).
  const rows = execFileSync('tar', ['-tvRf', SAVE], { encoding: 'utf8' }).split('\n');
  const layers = rows
    .map((r) => /^block (\d+): \S+ \S+\s+(\d+) .* (\S+\/layer\.tar)$/.exec(r))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ block: Number(m[1]), size: Number(m[2]), name: m[3] }));
  const biggest = layers.reduce((x, y) => (y.size > x.size ? y : x));
  const cut = path.join(tmp, 'truncated.tar');
  fs.writeFileSync(cut, fs.readFileSync(SAVE).subarray(0, (biggest.block + 1) * 512 + Math.floor(biggest.size / 2)));

  const store = await Store.open([cut]);
  assert.equal(store.roots[0].error, undefined, 'the root opens');
  const messages = store.problems.map((p) => p.message);
  assert.ok(messages.some((m) => m.includes(cut) && /truncated/.test(m) && m.includes(biggest.name)), `a problem names the archive, the member and says it is truncated: ${messages.join(' | ')}`);
  assert.ok(store.images.length > 0, 'the images whose members are whole are listed');
  const r = await runCli(['--root', cut, 'images']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /archive truncated\.tar/);
  // The layer cut short walks what it holds and says the rest is missing.
  const layer = store.layers.find((l) => l.content?.tar?.blob.name === biggest.name);
  assert.ok(layer?.content, `${biggest.name} is still a layer`);
  assert.ok(layer.problems.some((p) => /truncated/.test(p.message)), 'the layer says it is cut short');
  const problems: string[] = [];
  const entries: string[] = [];
  for await (const e of walkLayer(layer.content, { onProblem: (p) => problems.push(p.message) })) entries.push(e.path);
  assert.ok(entries.length > 0, 'the entries before the cut are listed');
  assert.ok(problems.some((m) => /truncated/.test(m)), `the walk reports the cut: ${problems.join(' | ')}`);
});

/** An archive made here, with tar-stream: `entries` name → text (or a link). */
async function makeTar(file: string, entries: [string, string | { link: string }][]): Promise<string> {
  const p = pack();
  for (const [name, v] of entries) {
    if (typeof v === 'string') p.entry({ name }, v);
    else p.entry({ name, type: 'symlink', linkname: v.link });
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  fs.writeFileSync(file, Buffer.concat(chunks));
  return file;
}

test('hostile archives: names that climb out are refused with a message, nothing outside is read, the rest is listed', async () => {
  const layerTar = path.join(tmp, 'evil-layer.tar');
  await makeTar(layerTar, [
    ['../../escape.txt', 'x'],
    ['etc/ok.txt', 'ok'],
    ['etc/link', { link: '/etc/shadow' }],
  ]);
  const layer = fs.readFileSync(layerTar);
  const diffId = `sha256:${sha256(layer)}`;
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created_by: 'evil' }] });
  const configHex = sha256(config);
  const archive = await makeTar(path.join(tmp, 'evil.tar'), [
    [`${configHex}.json`, config],
    ['abc/layer.tar', layer.toString('latin1')],
    [`${'a'.repeat(64)}/layer.tar`, layer.toString('latin1')],
    [
      'manifest.json',
      JSON.stringify([
        { Config: '../../../etc/passwd', RepoTags: ['evil:config'], Layers: [] },
        { Config: `${configHex}.json`, RepoTags: ['evil:layer'], Layers: ['../../etc/passwd'] },
        { Config: `${configHex}.json`, RepoTags: ['good:1'], Layers: [`${'a'.repeat(64)}/layer.tar`] },
      ]),
    ],
  ]);
  const store = await Store.open([archive]);
  const problems = store.problems.map((p) => p.message);
  assert.ok(problems.some((m) => m.includes('../../../etc/passwd') && /config name/.test(m)), problems.join(' | '));
  assert.ok(problems.some((m) => m.includes('../../etc/passwd') && /layer name/.test(m)), problems.join(' | '));
  const good = store.findImage('good:1');
  const content = store.layer(good.layerKeys[0])!.content!;
  const walked: string[] = [];
  const walkProblems: string[] = [];
  for await (const e of walkLayer(content, { onProblem: (p) => walkProblems.push(p.message) })) walked.push(`${e.path}${e.target ? ' -> ' + e.target : ''}`);
  assert.deepEqual(walked, ['/etc', '/etc/link -> /etc/shadow', '/etc/ok.txt']);
  assert.ok(walkProblems.some((m) => m.includes('../../escape.txt')), 'the climbing entry is reported');
  const link = await readLayerFile(content, '/etc/link');
  assert.deepEqual(link.kind === 'symlink' && link.target, '/etc/shadow', 'a symlink is its target, never followed');
  await assert.rejects(readLayerFile(content, '/etc/link/x'), /symbolic link/);
  await assert.rejects(readLayerFile(content, '/../../escape.txt'), /must not hold/);
});

test('a file that is not an archive, and a gzip-compressed archive, get a clear message', async () => {
  const text = path.join(tmp, 'notes.txt');
  fs.writeFileSync(text, 'hello, not a tar\n'.repeat(100));
  const gz = path.join(tmp, 'save.tar.gz');
  fs.writeFileSync(gz, zlib.gzipSync(Buffer.alloc(2048)));
  const a = await runCli(['--root', text, 'images']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /notes\.txt is neither a folder nor an image archive/);
  const b = await runCli(['--root', gz, 'images']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /gzip-compressed archive: decompress it first/);
});

test('cancellation: a walk of an archive layer, and an archive\'s load, stop with `cancelled` when the signal fires', { skip: noArchives }, async () => {
  const archive = path.join(ARCHIVES, 'dive-test-docker-image.tar');
  const store = await Store.open([archive]);
  const big = store.layers.reduce((a, b) => (b.size > a.size ? b : a));
  const controller = new AbortController();
  controller.abort();
  const cancelled = (err: unknown) => (err as { code?: string }).code === 'cancelled';
  await assert.rejects(allEntries(big.content!, controller.signal), cancelled);
  await assert.rejects(Store.open([archive], { signal: controller.signal }), cancelled);
});

/** One raw ustar header block (type `type`, `size` bytes of data announced, mtime in seconds), checksum set. */
function rawHeader(name: string, type: string, size: number, mtime = 0): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write(mtime.toString(8).padStart(11, '0') + '\0', 136);
  h[156] = type.charCodeAt(0);
  h.write('ustar\0' + '00', 257);
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

const padded = (data: Buffer): Buffer => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
const fileEntry = (name: string, text: string, mtime = 0): Buffer => Buffer.concat([rawHeader(name, '0', Buffer.byteLength(text), mtime), padded(Buffer.from(text))]);

/** A pax `x` header and its records. */
function paxEntry(records: Record<string, string>): Buffer {
  const data = Buffer.from(
    Object.entries(records)
      .map(([k, v]) => {
        const body = ` ${k}=${v}\n`;
        let len = body.length + 1;
        while (String(len).length + body.length !== len) len++;
        return `${len}${body}`;
      })
      .join(''),
  );
  return Buffer.concat([rawHeader('PaxHeaders.0/x', 'x', data.length), padded(data)]);
}

const END = Buffer.alloc(1024);

test('an extended header claiming more than 1 MiB is refused, named, in an archive and in a gzip layer; the members before it are listed', { skip: noArchives }, async () => {
  // The Docker 18 save with, before its end blocks, a pax header of 2 MiB (there, whole) and a member after it.
  const source = path.join(ARCHIVES, 'dive-test-docker-image.tar');
  const end = Number(/block (\d+): \*\* Block of NULs \*\*/.exec(execFileSync('tar', ['-tvRf', source], { encoding: 'utf8' }))![1]);
  const big = 2 * 1024 * 1024;
  const archive = path.join(tmp, 'big-pax.tar');
  fs.writeFileSync(
    archive,
    Buffer.concat([fs.readFileSync(source).subarray(0, end * 512), rawHeader('PaxHeaders.0/huge', 'x', big), Buffer.alloc(big, 'a'), fileEntry('after.txt', 'x'), END]),
  );
  const store = await Store.open([archive]);
  assert.equal(store.roots[0].error, undefined);
  assert.equal(store.images.length, 1, 'the image before it is listed');
  const messages = store.problems.map((p) => p.message);
  assert.ok(
    messages.some((m) => m.includes(archive) && m.includes('"PaxHeaders.0/huge"') && m.includes(`claims ${big} bytes`)),
    `a problem names the archive and the header: ${messages.join(' | ')}`,
  );

  // A gzip layer whose pax header claims 8 GiB: refused at once, not gathered.
  const layer = path.join(tmp, 'big-pax-layer.tar.gz');
  fs.writeFileSync(layer, zlib.gzipSync(Buffer.concat([fileEntry('etc/ok.txt', 'ok'), rawHeader('././@LongLink', 'L', 0o77777777777), Buffer.alloc(4096, 'b'), END])));
  const index = await tarLayerIndex({ file: layer, start: 0, size: fs.statSync(layer).size, name: 'layer.tar.gz' });
  assert.deepEqual([...index.nodes.keys()].sort(), ['/etc', '/etc/ok.txt']);
  assert.ok(
    index.problems.some((p) => p.message.includes('"././@LongLink"') && p.message.includes(`claims ${0o77777777777} bytes`)),
    index.problems.map((p) => p.message).join(' | '),
  );
});

test('config fields of the wrong type (`"created": 5`) and a pax mtime no date can hold: the images are listed, compared, and the CLI does not throw', async () => {
  const base = Buffer.concat([fileEntry('etc/a.txt', 'hello', 100), END]);
  // The pax mtime: 10^400 seconds (Infinity as a number); the header's own mtime (1000 s) stands.
  const evil = Buffer.concat([paxEntry({ mtime: '1' + '0'.repeat(400) }), fileEntry('etc/a.txt', 'world', 1000), END]);
  const diff = (b: Buffer) => `sha256:${sha256(b)}`;
  const numConfig = JSON.stringify({ created: 5, os: 7, architecture: ['x'], rootfs: { type: 'layers', diff_ids: [diff(base)] }, history: [{ created_by: 'base' }] });
  const paxConfig = JSON.stringify({ created: '2020-01-01T00:00:00Z', os: 'linux', rootfs: { type: 'layers', diff_ids: [diff(base), diff(evil)] }, history: [{ created_by: 'base' }, { created_by: 'pax' }] });
  const archive = await makeTar(path.join(tmp, 'odd-fields.tar'), [
    [`${sha256(numConfig)}.json`, numConfig],
    [`${sha256(paxConfig)}.json`, paxConfig],
    [`${'b'.repeat(64)}/layer.tar`, base.toString('latin1')],
    [`${'e'.repeat(64)}/layer.tar`, evil.toString('latin1')],
    [
      'manifest.json',
      JSON.stringify([
        { Config: `${sha256(numConfig)}.json`, RepoTags: ['num:1'], Layers: [`${'b'.repeat(64)}/layer.tar`] },
        { Config: `${sha256(paxConfig)}.json`, RepoTags: ['pax:1'], Layers: [`${'b'.repeat(64)}/layer.tar`, `${'e'.repeat(64)}/layer.tar`] },
      ]),
    ],
  ]);
  const store = await Store.open([archive]);
  assert.equal(store.roots[0].error, undefined);
  assert.deepEqual(store.problems, []);
  assert.deepEqual(store.images.map((i) => i.tags[0]), ['pax:1', 'num:1'], 'both listed, the one with a date first');
  const num = store.findImage('num:1');
  assert.deepEqual([num.created, num.platform.os, num.platform.architecture], [undefined, undefined, undefined], 'non-strings dropped');
  const top = store.layer(store.findImage('pax:1').layerKeys[1])!;
  assert.equal((await statLayerPath(top.content!, '/etc/a.txt')).mtimeMs, 1000 * 1000, 'the absurd pax mtime is ignored');
  const r = await runCli(['--root', archive, 'compare', 'num:1', 'pax:1', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const changed = JSON.parse(r.stdout).files;
  assert.ok(JSON.stringify(changed).includes('/etc/a.txt'), r.stdout);
});

test('the shared layer index: one caller cancelling does not cancel the others; a rewritten file is indexed again', async () => {
  const file = path.join(tmp, 'shared-index.tar.gz');
  const layerOf = (name: string) => zlib.gzipSync(Buffer.concat([fileEntry(name, 'same'), fileEntry('etc/pad.bin', 'x'.repeat(300_000)), END]), { level: 0 });
  fs.writeFileSync(file, layerOf('etc/a.txt'));
  const blob = () => ({ file, start: 0, size: fs.statSync(file).size, name: 'shared-index.tar.gz' });
  const controller = new AbortController();
  const first = tarLayerIndex(blob(), controller.signal);
  const second = tarLayerIndex(blob());
  controller.abort();
  await assert.rejects(first, (err: { code?: string }) => err.code === 'cancelled', 'the caller that cancelled');
  assert.ok((await second).nodes.has('/etc/a.txt'), 'the other caller gets the index');
  assert.equal(await tarLayerIndex(blob()), await second, 'kept: read once');
  // Replaced by a file of the same size (a new inode, a new mtime): indexed again.
  const next = path.join(tmp, 'shared-index.next');
  fs.writeFileSync(next, layerOf('etc/b.txt'));
  fs.renameSync(next, file);
  const again = await tarLayerIndex(blob());
  assert.deepEqual([again.nodes.has('/etc/a.txt'), again.nodes.has('/etc/b.txt')], [false, true]);
});

test('a blob of an OCI-layout folder swapped for a symlink after loading is refused, not followed', { skip: noArchives }, async () => {
  const dir = ociFolder('swapped');
  const store = await Store.open([dir]);
  const layer = store.layer(store.images[0].layerKeys[0])!;
  const blobFile = layer.content!.tar!.blob.file;
  const moved = path.join(tmp, 'moved-blob');
  fs.renameSync(blobFile, moved);
  fs.symlinkSync(moved, blobFile);
  await assert.rejects(allEntries(layer.content!), /is a symbolic link: not followed/);
});
