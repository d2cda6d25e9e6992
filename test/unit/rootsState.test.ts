/**
 * Which welcome message the Images view shows when no root can be read:
 * the reason comes from real failures (a missing folder, a folder that is no
 * Docker root, a root-only folder read by an unprivileged user).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Store, rootsState } from '../../src/core/store';
import { projectRoot, sharedRoot } from './support/roots';

test('no roots configured → none; missing → missing; not a root → notRoot', async () => {
  assert.equal(rootsState((await Store.open([])).roots), 'none');
  assert.equal(rootsState((await Store.open(['/nonexistent/a', '/nonexistent/b'])).roots), 'missing');
  const empty = mkdtempSync(path.join(os.tmpdir(), 'dle-notroot-'));
  try {
    assert.equal(rootsState((await Store.open([empty, '/nonexistent/a'])).roots), 'notRoot');
  } finally {
    rmSync(empty, { recursive: true });
  }
});

test('one readable root among failing ones → ok, and the failing ones keep their reason', async (t) => {
  const r = projectRoot('overlay2') ?? sharedRoot('docker20-overlay2');
  if (!r) return t.skip('no real root is extracted');
  const store = await Store.open([r.root, '/nonexistent/x']);
  assert.equal(rootsState(store.roots), 'ok');
  assert.equal(store.roots.find((s) => s.root === '/nonexistent/x')?.error?.code, 'not-found');
  assert.ok(store.images.length > 0);
});

test('a root-only folder read by an unprivileged user → permission, with what to do', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to drop privileges with setpriv');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dle-perm-'));
  mkdirSync(path.join(dir, 'image', 'overlay2', 'imagedb'), { recursive: true });
  chmodSync(dir, 0o700);
  try {
    const storeModule = path.join(__dirname, '..', '..', 'src', 'core', 'store.js');
    const script = `const m=require(${JSON.stringify(storeModule)});m.Store.open([${JSON.stringify(dir)}]).then(s=>console.log(JSON.stringify({state:m.rootsState(s.roots),message:s.roots[0].error&&s.roots[0].error.message})))`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    if (r.error) return t.skip(`setpriv is not available: ${r.error.message}`);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.state, 'permission');
    assert.match(out.message, /permission denied/);
    assert.match(out.message, /root only/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
