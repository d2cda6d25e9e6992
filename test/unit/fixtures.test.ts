// Sanity of the real test roots: the project's own (test/fixtures/makeRoots.sh)
// and the extracted ../shared/fixtures roots (test/fixtures/extractShared.sh).
// These check the fixtures, not the readers: if one fails, the roots are wrong.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { projectRoot, sharedRoot, whyMissing, SHARED_ROOTS, type TestRoot } from './support/roots';

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function readJsonl(file: string): unknown[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

interface Entry {
  path: string;
  stat: fs.Stats;
}

/** Every entry below dir (lstat: symlinks are not followed). */
function walk(dir: string, out: Entry[] = []): Entry[] {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    const stat = fs.lstatSync(p);
    out.push({ path: p, stat });
    if (stat.isDirectory()) walk(p, out);
  }
  return out;
}

function whiteoutDevices(entries: Entry[]): Entry[] {
  return entries.filter((e) => e.stat.isCharacterDevice() && e.stat.rdev === 0);
}

function hasGetfattr(): boolean {
  return spawnSync('getfattr', ['--version']).status === 0;
}

/** Directories among dirs that carry trusted.overlay.opaque="y" (via getfattr). */
function opaqueDirs(dirs: string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < dirs.length; i += 200) {
    const r = spawnSync('getfattr', ['-h', '--absolute-names', '-n', 'trusted.overlay.opaque', ...dirs.slice(i, i + 200)], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    // exit 1 just means some dirs lack the attribute
    let file = '';
    for (const line of r.stdout.split('\n')) {
      if (line.startsWith('# file: ')) file = line.slice(8);
      else if (line === 'trusted.overlay.opaque="y"' && file) found.push(file);
    }
  }
  return found;
}

function skipUnless(t: test.TestContext, r: TestRoot | undefined, name: string): r is undefined {
  if (!r) t.skip(whyMissing(name));
  return !r;
}

/** The truth a private dockerd recorded: sane and consistent with its root. */
function checkDockerTruth(r: TestRoot, driver: string): void {
  const images = readJsonl(path.join(r.truth, 'images.jsonl')) as Array<{ ID: string; Repository: string; Tag: string }>;
  const tags = new Set(images.map((i) => `${i.Repository}:${i.Tag}`));
  for (const tag of ['dle/base:1', 'dle/app:1', 'dle/app:2', 'dle/app:latest']) {
    assert.ok(tags.has(tag), `${driver}: images.jsonl lists ${tag}`);
  }
  const inspects = fs.readdirSync(r.truth).filter((n) => /^inspect-[0-9a-f]{64}\.json$/.test(n));
  assert.ok(inspects.length >= 8, `${driver}: one inspect file per image id (intermediates too), got ${inspects.length}`);
  const content = path.join(r.root, 'image', driver, 'imagedb', 'content', 'sha256');
  for (const f of inspects) {
    const hex = f.slice('inspect-'.length, -'.json'.length);
    const doc = readJson(path.join(r.truth, f)) as Array<{ Id: string }>;
    assert.equal(doc[0]?.Id, `sha256:${hex}`);
    const config = fs.readFileSync(path.join(content, hex));
    assert.equal(crypto.createHash('sha256').update(config).digest('hex'), hex, `${driver}: image id = sha256 of its config`);
    const history = readJsonl(path.join(r.truth, `history-${hex}.jsonl`)) as Array<{ CreatedBy: string }>;
    assert.ok(history.length > 0 && history.every((h) => typeof h.CreatedBy === 'string'));
  }
  const ctr = readJson(path.join(r.truth, 'container-dle-ctr.json')) as Array<{ Id: string; Name: string }>;
  assert.equal(ctr[0]?.Name, '/dle-ctr');
  assert.ok(fs.existsSync(path.join(r.root, 'image', driver, 'layerdb', 'mounts', ctr[0].Id, 'mount-id')));
  assert.ok(fs.existsSync(path.join(r.root, 'containers', ctr[0].Id, 'config.v2.json')));
  const diff = fs.readFileSync(path.join(r.truth, 'diff-dle-ctr.txt'), 'utf8');
  for (const kind of ['A', 'C', 'D']) assert.match(diff, new RegExp(`^${kind} /`, 'm'), `docker diff has ${kind} lines`);
  const version = readJson(path.join(r.truth, 'version.json')) as { Server?: { Version?: string } };
  assert.match(version.Server?.Version ?? '', /^\d+\.\d+/);
  const df = readJson(path.join(r.truth, 'system-df.json')) as { Images?: unknown[] };
  assert.ok(Array.isArray(df.Images));
}

test('project root: overlay2 (private dockerd, overlay2 driver)', async (t) => {
  const r = projectRoot('overlay2');
  if (skipUnless(t, r, 'overlay2')) return;
  assert.ok(fs.statSync(path.join(r.root, 'image', 'overlay2', 'imagedb')).isDirectory());
  assert.ok(fs.existsSync(path.join(r.root, 'image', 'overlay2', 'repositories.json')));
  const layerDirs = fs
    .readdirSync(path.join(r.root, 'overlay2'))
    .map((n) => path.join(r.root, 'overlay2', n, 'diff'))
    .filter((d) => fs.existsSync(d));
  assert.ok(layerDirs.length >= 8, `overlay2/*/diff: ${layerDirs.length}`);
  const entries = layerDirs.flatMap((d) => walk(d));

  await t.test('whiteouts are character devices 0/0', () => {
    const wh = whiteoutDevices(entries).map((e) => e.path);
    assert.ok(wh.length >= 1, 'at least one whiteout device');
    for (const p of ['/data/old.txt', '/root/example', '/data/new.txt']) {
      assert.ok(wh.some((w) => w.endsWith(p)), `a whiteout for ${p}: ${wh.join(', ')}`);
    }
  });

  await t.test('a replaced directory carries trusted.overlay.opaque="y"', (tt) => {
    if (!hasGetfattr()) return tt.skip('getfattr is not installed (apt-get install attr)');
    const opaque = opaqueDirs([...layerDirs, ...entries.filter((e) => e.stat.isDirectory()).map((e) => e.path)]);
    assert.ok(opaque.length >= 1, 'at least one opaque directory (reading trusted.* needs root)');
    assert.ok(opaque.some((d) => d.endsWith('/diff/etc/app')), `opaque /etc/app: ${opaque.join(', ')}`);
  });

  await t.test('a symlink points out of its layer', () => {
    const links = entries.filter((e) => e.stat.isSymbolicLink() && e.path.endsWith('/data/shadow-link'));
    assert.equal(links.length, 1);
    assert.equal(fs.readlinkSync(links[0].path), '/etc/shadow');
  });

  await t.test('truth parses and matches the root', () => checkDockerTruth(r, 'overlay2'));
});

test('project root: vfs (private dockerd, vfs driver)', async (t) => {
  const r = projectRoot('vfs');
  if (skipUnless(t, r, 'vfs')) return;
  assert.ok(fs.statSync(path.join(r.root, 'image', 'vfs', 'imagedb')).isDirectory());
  const dirs = fs.readdirSync(path.join(r.root, 'vfs', 'dir'));
  assert.ok(dirs.length >= 8, `vfs/dir entries: ${dirs.length}`);
  // vfs keeps full snapshots: a deleted file is simply absent, never a device
  const entries = dirs.flatMap((d) => walk(path.join(r.root, 'vfs', 'dir', d)));
  assert.equal(whiteoutDevices(entries).length, 0);
  checkDockerTruth(r, 'vfs');
});

test('project root: containerd (namespace moby, overlayfs snapshots)', (t) => {
  const r = projectRoot('containerd');
  if (skipUnless(t, r, 'containerd')) return;
  assert.ok(fs.statSync(path.join(r.root, 'io.containerd.metadata.v1.bolt', 'meta.db')).isFile());
  const snaps = path.join(r.root, 'io.containerd.snapshotter.v1.overlayfs');
  assert.ok(fs.statSync(path.join(snaps, 'metadata.db')).isFile());
  assert.ok(fs.readdirSync(path.join(snaps, 'snapshots')).length >= 8);
  const images = fs.readFileSync(path.join(r.truth, 'images.txt'), 'utf8');
  for (const ref of ['docker.io/dle/base:1', 'docker.io/dle/app:1', 'docker.io/dle/app:2']) {
    assert.match(images, new RegExp(`^${ref.replace(/[.]/g, '\\.')}\\s`, 'm'));
  }
  const blobs = path.join(r.root, 'io.containerd.content.v1.content', 'blobs', 'sha256');
  const digests = [...fs.readFileSync(path.join(r.truth, 'content.txt'), 'utf8').matchAll(/^sha256:([0-9a-f]{64})\s/gm)];
  assert.ok(digests.length >= 8, `content.txt digests: ${digests.length}`);
  for (const [, hex] of digests) assert.ok(fs.existsSync(path.join(blobs, hex)), `blob ${hex}`);
  assert.ok(fs.readFileSync(path.join(r.truth, 'snapshots.txt'), 'utf8').includes('Committed'));
});

test('project root: legacy graph (Docker <= 1.9, aufs)', (t) => {
  const r = projectRoot('legacy');
  if (skipUnless(t, r, 'legacy')) return;
  assert.ok(fs.statSync(path.join(r.root, 'graph')).isDirectory());
  const repos = readJson(path.join(r.root, 'repositories-aufs')) as { Repositories: Record<string, Record<string, string>> };
  const ids = Object.values(repos.Repositories).flatMap((byTag) => Object.values(byTag));
  assert.ok(ids.length >= 3);
  for (const id of ids) assert.ok(fs.existsSync(path.join(r.root, 'graph', id, 'json')), `graph/${id}/json`);

  const expected = readJson(path.join(r.truth, 'expected.json')) as {
    tags: Record<string, { top: string; chain: string[] }>;
  };
  for (const [tag, { top, chain }] of Object.entries(expected.tags)) {
    const [repo, name] = [tag.slice(0, tag.lastIndexOf(':')), tag.slice(tag.lastIndexOf(':') + 1)];
    assert.equal(repos.Repositories[repo]?.[name], top, tag);
    assert.equal(chain[chain.length - 1], top);
    // chain bottom -> top follows the json parent links; aufs/layers lists ancestors nearest first
    chain.forEach((id, i) => {
      const json = readJson(path.join(r.root, 'graph', id, 'json')) as { id: string; parent?: string };
      assert.equal(json.id, id);
      assert.equal(json.parent, i === 0 ? undefined : chain[i - 1]);
      assert.match(fs.readFileSync(path.join(r.root, 'graph', id, 'layersize'), 'utf8'), /^\d+$/);
      const anc = fs.readFileSync(path.join(r.root, 'aufs', 'layers', id), 'utf8').split('\n').filter(Boolean);
      assert.deepEqual(anc, chain.slice(0, i).reverse());
    });
  }
  // aufs whiteouts are plain files
  const diffs = walk(path.join(r.root, 'aufs', 'diff'));
  const wh = diffs.filter((e) => path.basename(e.path).startsWith('.wh.'));
  assert.ok(wh.some((e) => e.path.endsWith('/data/.wh.old.txt') && e.stat.isFile()));
  assert.ok(wh.some((e) => e.path.endsWith('/etc/app/.wh..wh..opq') && e.stat.isFile()));
  assert.equal(whiteoutDevices(diffs).length, 0);
});

test('shared roots are extracted whole', async (t) => {
  const inner: Record<string, string> = {
    'docker20-overlay2': 'image/overlay2/imagedb',
    'containerd16-moby': 'io.containerd.metadata.v1.bolt/meta.db',
    'dex-aufs.v1': 'graph',
    'dex-aufs.v2': 'image/aufs/imagedb',
    'dex-overlay2.v2': 'image/overlay2/imagedb',
  };
  for (const name of SHARED_ROOTS) {
    await t.test(name, (tt) => {
      const r = sharedRoot(name);
      if (!r) return tt.skip(whyMissing(name));
      assert.ok(fs.existsSync(path.join(r.root, inner[name])), `${name}: ${inner[name]}`);
      if (name === 'docker20-overlay2') {
        assert.ok(fs.existsSync(path.join(r.truth, 'images.jsonl')));
        const wh = whiteoutDevices(
          fs
            .readdirSync(path.join(r.root, 'overlay2'))
            .map((n) => path.join(r.root, 'overlay2', n, 'diff'))
            .filter((d) => fs.existsSync(d))
            .flatMap((d) => walk(d)),
        );
        assert.equal(wh.length, 6, 'the README says 6 whiteout devices (extraction as root keeps them)');
      }
      if (name === 'containerd16-moby') assert.ok(fs.existsSync(path.join(r.truth, 'images.txt')));
    });
  }
});
