// Export on the project's real roots and on small layers built here: bytes,
// modes and symlinks round-trip (a symlink stays a symlink, never followed),
// a merged folder exports what the merged view shows, nothing is overwritten,
// a destination inside a root (directly or through a symlink) is refused and
// the root is left byte for byte as it was, specials are skipped, setuid is
// dropped, a cancel stops it; and the `export` CLI.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LayerError } from '../../src/core/errors';
import { exportPath, type ExportSource } from '../../src/core/export';
import { readLayerFile } from '../../src/core/layerFiles';
import type { Image, LayerContent } from '../../src/core/model';
import { imageStack } from '../../src/core/pathHistory';
import { Store } from '../../src/core/store';
import { runCli } from './support/cli';
import { fingerprint } from './support/fingerprint';
import { build, diffContent, isRoot } from './support/layers';
import { projectRoot, whyMissing } from './support/roots';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'export-'));
after(() => fs.rmSync(out, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => path.join(out, `${n++}`, name);
const mkParent = (p: string) => (fs.mkdirSync(path.dirname(p), { recursive: true }), p);

async function overlay2(): Promise<{ store: Store; root: string; app: Image } | undefined> {
  const r = projectRoot('overlay2');
  if (!r) return undefined;
  const store = await Store.open([r.root]);
  const app = store.images.find((i) => i.tags.includes('dle/app:1'));
  assert.ok(app, 'dle/app:1 is in the store');
  return { store, root: r.root, app };
}

function layerOfStep(store: Store, img: Image, re: RegExp): LayerContent {
  const step = img.steps.find((s) => re.test(s.createdBy));
  assert.ok(step, `a step matching ${re}`);
  const content = store.layer(step.layerKey)?.content;
  assert.ok(content, 'the step has a layer on disk');
  return content;
}

/** The merged view of `img` as of its top step, top layer first, as mergedPath reads it. */
function merged(store: Store, img: Image): ExportSource {
  return { kind: 'merged', layers: imageStack(store, img).contents.map((c) => c!).reverse() };
}

test('a layer folder round-trips: bytes, modes, and symlinks saved as symlinks with their target, never followed', async (t) => {
  const o = await overlay2();
  if (!o) return t.skip(whyMissing('overlay2'));
  const content = layerOfStep(o.store, o.app, /ln -s \/etc\/shadow/);
  const dest = mkParent(fresh('data'));
  const before = fingerprint(o.root);
  const result = await exportPath({ kind: 'layer', content }, '/data', dest, { forbidden: [o.root] });
  assert.equal(result.dest, dest);
  assert.deepEqual([result.files, result.dirs, result.symlinks, result.skipped.length], [0, 1, 2, 0]);
  assert.equal(fs.readlinkSync(path.join(dest, 'shadow-link')), '/etc/shadow');
  assert.equal(fs.readlinkSync(path.join(dest, 'passwd-link')), '../../etc/passwd');
  assert.ok(fs.lstatSync(path.join(dest, 'shadow-link')).isSymbolicLink());
  assert.equal(fs.lstatSync(dest).mode & 0o7777, fs.lstatSync(path.join(content.dir, 'data')).mode & 0o7777);
  assert.equal(fingerprint(o.root), before, 'the root is unchanged');
});

test('a merged folder exports what the merged view shows, bytes and modes equal to the layer copies', async (t) => {
  const o = await overlay2();
  if (!o) return t.skip(whyMissing('overlay2'));
  const dest = mkParent(fresh('etc'));
  const result = await exportPath(merged(o.store, o.app), '/etc', dest, { forbidden: [o.root] });
  // /etc/app was replaced by an opaque folder: only c.conf; a.conf and b.conf are gone.
  assert.deepEqual(fs.readdirSync(path.join(dest, 'app')), ['c.conf']);
  assert.equal(fs.readFileSync(path.join(dest, 'app', 'c.conf'), 'utf8'), 'new\n');
  const data = mkParent(fresh('data'));
  await exportPath(merged(o.store, o.app), '/data', data, { forbidden: [o.root] });
  assert.deepEqual(fs.readdirSync(data).sort(), ['keep.txt', 'new.txt', 'passwd-link', 'shadow-link']);
  const keep = layerOfStep(o.store, o.app, /echo overwritten/);
  const source = await readLayerFile(keep, '/data/keep.txt');
  assert.equal(source.kind, 'file');
  if (source.kind === 'file') {
    assert.deepEqual(fs.readFileSync(path.join(data, 'keep.txt')), Buffer.from(source.data));
    assert.equal(fs.statSync(path.join(data, 'keep.txt')).mode & 0o7777, source.stat.mode & 0o7777);
  }
  // The 2 MB busybox, byte for byte, with its executable mode.
  const bin = mkParent(fresh('busybox'));
  const r = await exportPath(merged(o.store, o.app), '/bin/busybox', bin, { forbidden: [o.root] });
  const base = layerOfStep(o.store, o.app, /COPY dir:/);
  assert.deepEqual(fs.readFileSync(bin), fs.readFileSync(path.join(base.dir, 'bin', 'busybox')));
  assert.equal(r.bytes, fs.statSync(bin).size);
  assert.equal(fs.statSync(bin).mode & 0o777, fs.statSync(path.join(base.dir, 'bin', 'busybox')).mode & 0o777);
  assert.ok(result.files >= 3);
});

test('a destination inside the root is refused, directly or through a symlink, and the root is unchanged', async (t) => {
  const o = await overlay2();
  if (!o) return t.skip(whyMissing('overlay2'));
  const before = fingerprint(o.root);
  const source = merged(o.store, o.app);
  const refused = (err: unknown) => err instanceof LayerError && err.code === 'invalid-id' && /inside the Docker root/.test(err.message);
  await assert.rejects(exportPath(source, '/data', path.join(o.root, 'exported'), { forbidden: [o.root] }), refused);
  await assert.rejects(exportPath(source, '/data/keep.txt', o.root, { forbidden: [o.root] }), refused);
  const link = mkParent(fresh('into-root'));
  fs.symlinkSync(path.join(o.root, 'image'), link);
  await assert.rejects(exportPath(source, '/data', path.join(link, 'x'), { forbidden: [o.root] }), refused);
  assert.equal(fingerprint(o.root), before, 'nothing was written into the root');
  const cli = await runCli(['--root', o.root, 'export', '--merged', 'dle/app:1', '/data', path.join(o.root, 'x')]);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /refusing to export into .*inside the Docker root/);
  assert.equal(fingerprint(o.root), before);
});

test('a destination named ..x inside the root is inside it: refused, and the root is unchanged', async (t) => {
  const o = await overlay2();
  if (!o) return t.skip(whyMissing('overlay2'));
  const before = fingerprint(o.root);
  const dest = path.join(o.root, '..x');
  try {
    await assert.rejects(
      exportPath(merged(o.store, o.app), '/data', dest, { forbidden: [o.root] }),
      (err: unknown) => err instanceof LayerError && err.code === 'invalid-id' && /inside the Docker root/.test(err.message),
    );
    assert.equal(fs.existsSync(dest), false);
    assert.equal(fingerprint(o.root), before, 'nothing was written into the root');
  } finally {
    fs.rmSync(dest, { recursive: true, force: true }); // only there if the check failed
  }
});

test('a destination reached through a symlink to the root itself, or a root given through a symlink, is refused; the CLI always forbids the default roots', async (t) => {
  const o = await overlay2();
  if (!o) return t.skip(whyMissing('overlay2'));
  const before = fingerprint(o.root);
  const source = merged(o.store, o.app);
  const refused = (err: unknown) => err instanceof LayerError && err.code === 'invalid-id' && /inside the Docker root/.test(err.message);
  const link = mkParent(fresh('root-link'));
  fs.symlinkSync(o.root, link);
  // The destination's path goes through the symlink; the forbidden root is given by its own path.
  await assert.rejects(exportPath(source, '/data', path.join(link, 'exported'), { forbidden: [o.root] }), refused);
  await assert.rejects(exportPath(source, '/data', path.join(link, 'image', 'new', 'deeper'), { forbidden: [o.root] }), refused);
  // The root is given through the symlink; the destination by the root's own path.
  await assert.rejects(exportPath(source, '/data', path.join(o.root, 'exported'), { forbidden: [link] }), refused);
  assert.equal(fingerprint(o.root), before, 'nothing was written into the root');
  // --root elsewhere does not make a default root writable (--dry-run: nothing is written even if it were not refused).
  const cli = await runCli(['--root', o.root, 'export', '--merged', '--dry-run', 'dle/app:1', '/data', '/var/lib/docker/exported']);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /refusing to export into .*inside the Docker root \/var\/lib\/docker/);
});

test('nothing is overwritten; a deleted path and a path through a symlink are not exported', async (t) => {
  const o = await overlay2();
  if (!o) return t.skip(whyMissing('overlay2'));
  const source = merged(o.store, o.app);
  const dest = mkParent(fresh('keep.txt'));
  fs.writeFileSync(dest, 'mine');
  await assert.rejects(exportPath(source, '/data/keep.txt', dest, { forbidden: [o.root] }), /already exists: export never overwrites/);
  assert.equal(fs.readFileSync(dest, 'utf8'), 'mine');
  // A symlink planted where the file would go is not written through.
  const planted = mkParent(fresh('planted'));
  const victim = mkParent(fresh('victim'));
  fs.writeFileSync(victim, 'untouched');
  fs.symlinkSync(victim, planted);
  await assert.rejects(exportPath(source, '/data/keep.txt', planted, { forbidden: [o.root] }), /already exists/);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
  // replace (a save dialog asked): the file is replaced, not written through.
  await exportPath(source, '/data/keep.txt', planted, { forbidden: [o.root], replace: true });
  assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
  assert.equal(fs.readFileSync(planted, 'utf8'), 'overwritten\n');
  const rm = layerOfStep(o.store, o.app, /rm \/data\/old\.txt/);
  await assert.rejects(exportPath({ kind: 'layer', content: rm }, '/data/old.txt', fresh('old'), { forbidden: [o.root] }), (e: unknown) => e instanceof LayerError && e.code === 'not-found');
  await assert.rejects(exportPath(source, '/data/old.txt', fresh('old'), { forbidden: [o.root] }), (e: unknown) => e instanceof LayerError && e.code === 'not-found');
  await assert.rejects(exportPath(source, '/data/shadow-link/x', fresh('x'), { forbidden: [o.root] }), /symbolic link .* not followed/);
  const cli = await runCli(['--root', o.root, 'export', '--merged', 'dle/app:1', '/data/old.txt', fresh('old')]);
  assert.equal(cli.code, 1, 'not found: exit 1');
});

test('a container read-write layer exports its own changes; --dry-run writes nothing', async (t) => {
  const o = await overlay2();
  if (!o) return t.skip(whyMissing('overlay2'));
  const dest = fresh('ctr');
  const dry = await runCli(['--root', o.root, '--json', 'export', 'dle-ctr', '/', dest, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  const doc = JSON.parse(dry.stdout);
  assert.equal(doc.dryRun, true);
  assert.equal(fs.existsSync(dest), false, 'a dry run writes nothing');
  mkParent(dest);
  const real = await runCli(['--root', o.root, 'export', 'dle-ctr', '/', dest]);
  assert.equal(real.code, 0, real.stderr);
  assert.match(real.stdout, /exported \/ to .*: 2 files/);
  assert.deepEqual(fs.readdirSync(path.join(dest, 'data')).sort(), ['added.txt', 'keep.txt']);
  assert.equal(doc.files, 2);
});

test('specials are skipped, setuid and setgid dropped, and a cancel stops the export', async (t) => {
  const dir = build('export-specials', { 'x/tool': 'run me', 'x/fifo': { fifo: true }, 'x/plain': 'p' });
  fs.chmodSync(path.join(dir, 'x', 'tool'), 0o6755);
  const content = diffContent(dir, 'overlay');
  const dest = mkParent(fresh('x'));
  const result = await exportPath({ kind: 'layer', content }, '/x', dest, { forbidden: [] });
  assert.deepEqual(result.skipped.map((s) => s.path), ['/x/fifo']);
  assert.equal(fs.statSync(path.join(dest, 'tool')).mode & 0o7777, 0o755);
  assert.equal(fs.readFileSync(path.join(dest, 'tool'), 'utf8'), 'run me');
  await assert.rejects(exportPath({ kind: 'layer', content }, '/x/fifo', fresh('f'), { forbidden: [] }), (e: unknown) => e instanceof LayerError && e.code === 'unsupported');
  const controller = new AbortController();
  await assert.rejects(
    exportPath({ kind: 'layer', content }, '/x', mkParent(fresh('x')), { forbidden: [], signal: controller.signal, onProgress: () => controller.abort() }),
    (e: unknown) => e instanceof LayerError && e.code === 'cancelled' && /left there/.test(e.message),
  );
  if (!isRoot) t.diagnostic('not root: the read-only folder case runs as any user');
  // A read-only folder is still filled: its mode is set once its content is written.
  fs.chmodSync(path.join(dir, 'x'), 0o555);
  const ro = mkParent(fresh('ro'));
  await exportPath({ kind: 'layer', content }, '/x', ro, { forbidden: [] });
  assert.equal(fs.statSync(ro).mode & 0o777, 0o555);
  assert.ok(fs.existsSync(path.join(ro, 'plain')));
  fs.chmodSync(ro, 0o755);
  fs.chmodSync(path.join(dir, 'x'), 0o755);
});
