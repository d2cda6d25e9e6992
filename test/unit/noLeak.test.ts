/**
 * Nothing leaks through symlinks, and nothing is written: a canary file
 * outside a copied real root is linked from inside a layer in every way
 * (absolute, relative `../`, a symlinked directory in the middle of a path, a
 * link loop, a layer's whole content folder linked to the canary's folder); no
 * output of any CLI command over the root ever contains the canary's content
 * or lists it, and the root's fingerprint is unchanged.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { cliJson, runCli } from './support/cli';
import { fingerprint } from './support/fingerprint';
import { projectRoot, whyMissing } from './support/roots';

test('a canary outside the root, linked from a layer in every way, never appears in any output', async (t) => {
  const source = projectRoot('overlay2');
  if (!source) return t.skip(whyMissing('overlay2'));
  const work = mkdtempSync(path.join(os.tmpdir(), 'dle-canary-'));
  try {
    const canaryText = `CANARY-${randomBytes(16).toString('hex')}`;
    const canaryDir = path.join(work, 'outside');
    mkdirSync(canaryDir);
    const canary = path.join(canaryDir, 'secret.txt');
    writeFileSync(canary, canaryText + '\n');

    // Our own copy of a real root; the links go into the top layer of dle/app:1.
    const root = path.join(work, 'root');
    execFileSync('cp', ['-a', source.root, root]);
    const { steps } = await cliJson<{ steps: { index: number; id: string | null }[] }>(['--root', root, 'layers', 'dle/app:1']);
    const top = [...steps].reverse().find((s) => s.id)!;
    const cacheId = readFileSync(path.join(root, 'image', 'overlay2', 'layerdb', 'sha256', top.id!.slice(7), 'cache-id'), 'utf8').trim();
    const diff = path.join(root, 'overlay2', cacheId, 'diff');
    const rel = path.relative(diff, canary);
    symlinkSync(canary, path.join(diff, 'canary-abs'));
    symlinkSync(rel, path.join(diff, 'canary-rel'));
    symlinkSync(canaryDir, path.join(diff, 'canary-dir'));
    symlinkSync('loop-b', path.join(diff, 'loop-a'));
    symlinkSync('loop-a', path.join(diff, 'loop-b'));
    // And a whole layer's content folder (dle/cmp:b's top layer) replaced by a link to the canary's folder.
    const cmpSteps = (await cliJson<{ steps: { index: number; id: string | null }[] }>(['--root', root, 'layers', 'dle/cmp:b'])).steps;
    const cmpTop = [...cmpSteps].reverse().find((s) => s.id)!;
    const cmpCache = readFileSync(path.join(root, 'image', 'overlay2', 'layerdb', 'sha256', cmpTop.id!.slice(7), 'cache-id'), 'utf8').trim();
    const cmpDiff = path.join(root, 'overlay2', cmpCache, 'diff');
    rmSync(cmpDiff, { recursive: true });
    symlinkSync(canaryDir, cmpDiff);
    const before = fingerprint(root);

    const outputs: string[] = [];
    const run = async (args: string[]) => {
      const r = await runCli(['--root', root, ...args]);
      outputs.push(r.stdout, r.stderr);
      return r;
    };
    const { images } = await cliJson<{ images: { id: string }[] }>(['--root', root, 'images', '--all']);
    for (const image of images) {
      const all = (await cliJson<{ steps: { index: number }[] }>(['--root', root, 'layers', image.id])).steps;
      for (const s of all) {
        for (const cmd of ['json', 'diff', 'files']) {
          for (const json of [[], ['--json']]) await run([cmd, `${image.id}@${s.index}`, ...json]);
        }
      }
    }
    await run(['containers', '--json']);
    await run(['files', 'dle-ctr']);

    const { files } = await cliJson<{ files: { path: string; type: string; target?: string }[] }>(['--root', root, 'files', `dle/app:1@${top.index}`]);
    const byPath = new Map(files.map((f) => [f.path, f]));
    assert.equal(byPath.get('/canary-abs')?.type, 'symlink');
    assert.equal(byPath.get('/canary-abs')?.target, canary);
    assert.equal(byPath.get('/canary-rel')?.target, rel);
    assert.equal(byPath.get('/canary-dir')?.type, 'symlink', 'a symlinked directory is listed as a link, not entered');
    assert.ok(!files.some((f) => f.path.startsWith('/canary-dir/')), 'nothing is listed through the linked directory');
    assert.equal(byPath.get('/loop-a')?.type, 'symlink');

    const linked = await runCli(['--root', root, 'files', `dle/cmp:b@${cmpTop.index}`]);
    assert.equal(linked.code, 1, 'a layer folder that is a symlink is not entered');
    assert.match(linked.stderr, /is a symlink/);
    // The canary's name shows only inside the link targets printed above, never as a listed path.
    for (const o of outputs) assert.ok(!o.replaceAll(canary, '').replaceAll(rel, '').includes('secret.txt'), `nothing is listed through the linked layer folder:\n${o.slice(0, 3000)}`);

    for (const o of outputs) assert.ok(!o.includes(canaryText), 'the canary never appears in any output');
    assert.equal(fingerprint(root), before, 'the root is unchanged');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
