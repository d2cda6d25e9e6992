#!/usr/bin/env node
// Packs the extension into .cache/dle.vsix from a staging folder that holds
// only what ships (the files .vscodeignore lets through). vsce lists every
// file under its working folder before it applies .vscodeignore, and .cache/
// holds test roots with a million entries: packing in the repository took
// minutes, packing the staged copy takes seconds.
//
//   node scripts/package.mjs [--out FILE]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const out = path.resolve(REPO, outArg > 0 ? process.argv[outArg + 1] : '.cache/dle.vsix');

/** What ships, as .vscodeignore says (it stays the list vsce applies inside the stage too). */
const SHIPPED = ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore', 'dist/extension.js', 'dist/webview.js', 'dist/cli.js', 'media', 'schemas'];

const stage = mkdtempSync(path.join(os.tmpdir(), 'dle-package-'));
try {
  for (const rel of SHIPPED) {
    const from = path.join(REPO, rel);
    if (!existsSync(from)) throw new Error(`${rel} is missing: run \`npm run build\` first`);
    mkdirSync(path.dirname(path.join(stage, rel)), { recursive: true });
    cpSync(from, path.join(stage, rel), { recursive: true });
  }
  mkdirSync(path.dirname(out), { recursive: true });
  const vsce = path.join(REPO, 'node_modules', '.bin', 'vsce');
  const r = spawnSync(vsce, ['package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', out], {
    cwd: stage,
    stdio: 'inherit',
  });
  if (r.error) throw r.error;
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(stage, { recursive: true, force: true });
}
