/**
 * The CLI's contract: exit status, one clear line on stderr for bad input,
 * id prefixes and tags, and that reading a root changes nothing in it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { cliJson, runCli } from './support/cli';
import { fingerprint } from './support/fingerprint';
import { projectRoot, sharedRoot, whyMissing } from './support/roots';

const repo = path.resolve(__dirname, '..', '..', '..');
const cliBundle = path.join(repo, 'dist', 'cli.js');

test('a missing root exits 2 and names the path', async () => {
  const r = await runCli(['--root', '/nonexistent/docker-root', 'images']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/nonexistent\/docker-root does not exist/);
});

test('a folder that is not a Docker root exits 2 and says what was looked for', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dle-empty-'));
  try {
    const r = await runCli(['--root', dir, 'images']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /holds no Docker storage layout/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('bad arguments exit 2 with the usage line', async () => {
  const r = await runCli(['--frobnicate', 'images']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --frobnicate/);
  assert.match(r.stderr, /Usage: docker-layers/);
  const r2 = await runCli(['--root', '/tmp', 'nosuchcommand']);
  assert.equal(r2.code, 2);
  const r3 = await runCli(['--root', '/tmp', 'layers']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /layers needs an IMAGE/);
});

test('an unreadable root (a non-root user on /var/lib/docker) exits 2 and says what to do', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to drop privileges with setpriv');
  const has = spawnSync('setpriv', ['--version']);
  if (has.status !== 0) return t.skip('setpriv is not installed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dle-private-'));
  mkdirSync(path.join(dir, 'image', 'overlay2'), { recursive: true });
  chmodSync(dir, 0o700);
  try {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cliBundle, '--root', dir, 'images'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /permission denied/);
    assert.match(r.stderr, /sudo/);
    assert.match(r.stderr, /--root/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('ids resolve by unique prefix and by tag; unknown and ambiguous refs exit 1', async (t) => {
  const r = projectRoot('overlay2') ?? sharedRoot('docker20-overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const root = ['--root', r.root];
  const { images } = await cliJson<{ images: { id: string; tags: string[] }[] }>([...root, 'images', '--all']);
  const tagged = images.find((i) => i.tags.length > 0)!;
  const byTag = await cliJson<{ steps: { diffId: string }[] }>([...root, 'layers', tagged.tags[0]]);
  const byPrefix = await cliJson<{ steps: { diffId: string }[] }>([...root, 'layers', tagged.id.slice(7, 19)]);
  assert.deepEqual(byTag, byPrefix);

  const missing = await runCli([...root, 'layers', 'no/such:image']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no image matches "no\/such:image"/);

  // Two ids that share a first hex digit make that digit ambiguous.
  const counts = new Map<string, number>();
  for (const i of images) counts.set(i.id[7], (counts.get(i.id[7]) ?? 0) + 1);
  const shared = [...counts].find(([, n]) => n > 1)?.[0];
  if (shared) {
    const amb = await runCli([...root, 'layers', shared]);
    assert.equal(amb.code, 1);
    assert.match(amb.stderr, /matches \d+ images/);
  }

  // IMAGE@N picks step N; out of range is not found.
  const { steps } = await cliJson<{ steps: unknown[] }>([...root, 'layers', tagged.tags[0]]);
  const doc = await cliJson<{ stepIndex: number }>([...root, 'json', `${tagged.tags[0]}@0`]);
  assert.equal(doc.stepIndex, 0);
  const out = await runCli([...root, 'json', `${tagged.tags[0]}@${steps.length}`]);
  assert.equal(out.code, 1);
});

test('reading a root with every command changes nothing in it', async (t) => {
  const r = projectRoot('overlay2') ?? sharedRoot('docker20-overlay2');
  if (!r) return t.skip(whyMissing('overlay2'));
  const before = fingerprint(r.root);
  const root = ['--root', r.root];
  const { images } = await cliJson<{ images: { id: string }[] }>([...root, 'images', '--all']);
  for (const i of images) {
    assert.equal((await runCli([...root, 'layers', i.id])).code, 0);
    assert.equal((await runCli([...root, 'json', i.id])).code, 0);
    assert.equal((await runCli([...root, 'diff', i.id])).code, 0);
    const f = await runCli([...root, 'files', i.id]);
    assert.ok(f.code === 0 || f.code === 1, f.stderr);
  }
  assert.equal((await runCli([...root, 'containers'])).code, 0);
  assert.equal(fingerprint(r.root), before);
});
