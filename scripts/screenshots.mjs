// The README's pictures, taken from the real product: the packaged extension
// in code-server on the shipped sample root. Run: npm run build && npm run
// package && node scripts/screenshots.mjs [NAME…] (tree, layer-json, compare, layer-files; default: all).
// Look at each picture before committing it.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { REPO } from './vscodeHost.mjs';
import { withWorkbench } from './screenshot.mjs';

const require = createRequire(import.meta.url);
const { ensureSampleRoot } = require(path.join(REPO, 'dist-test', 'sampleRoot.js'));
const out = (name) => path.join(REPO, 'docs', 'images', name);

/** Drags the side bar's edge so it is `width` pixels wide: sizes and ages are not cut off. */
async function widenSideBar(page, width) {
  const bar = await page.locator('.part.sidebar').boundingBox();
  if (!bar) return;
  const y = bar.y + bar.height / 2;
  await page.mouse.move(bar.x + bar.width, y);
  await page.mouse.down();
  await page.mouse.move(bar.x + width, y, { steps: 8 });
  await page.mouse.up();
}

const wanted = process.argv.slice(2);
const want = (name) => wanted.length === 0 || wanted.includes(name);

const sample = await ensureSampleRoot(path.join(REPO, 'media', 'sample-root.tar.gz'), mkdtempSync(path.join(os.tmpdir(), 'dle-shots-')));

if (want('tree')) await withWorkbench({ settings: { 'dockerLayers.roots': [sample], 'workbench.colorTheme': 'Default Dark Modern' } }, async (page) => {
  await page.click('.part.activitybar .action-label[aria-label="Docker Layers"]', { timeout: 30_000 });
  await widenSideBar(page, 720);
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'sample/app:1.0' }).first().waitFor({ timeout: 30_000 });
  await rows.filter({ hasText: 'sample/app:1.0' }).first().click();
  await rows.filter({ hasText: 'COPY' }).first().waitFor();
  await page.locator('.part.sidebar .monaco-list-row[aria-label^="Containers"]').click();
  await rows.filter({ hasText: 'sample-ctr' }).first().waitFor();
  // Hover a RUN-less metadata step so the tooltip with the full command shows.
  await rows.filter({ hasText: 'LABEL' }).last().hover();
  await page.waitForTimeout(1500);
  await page.screenshot({ path: out('tree.png') });
  console.log(`wrote ${out('tree.png')}`);
});

// The Layer JSON editor: the LABEL step of sample/app:1.0, its changes from the ENV step below
// highlighted (only changes shown), the second change focused. A click on the step row opens it.
if (want('layer-json')) await withWorkbench({ settings: { 'dockerLayers.roots': [sample], 'workbench.colorTheme': 'Default Dark Modern' } }, async (page) => {
  await page.click('.part.activitybar .action-label[aria-label="Docker Layers"]', { timeout: 30_000 });
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'sample/app:1.0' }).first().waitFor({ timeout: 30_000 });
  await rows.filter({ hasText: 'sample/app:1.0' }).first().click();
  await rows.filter({ hasText: 'LABEL org.example' }).first().click();
  const frame = await webviewFrame(page, 'docker-layer-explorer');
  await frame.waitForSelector('body[data-rendered="document"]', { timeout: 30_000 });
  // Only the changed lines (unchanged runs folded), then the second change with Next Change.
  await frame.locator('button[aria-label="Show only changes"]').click();
  const next = frame.locator('button[aria-label="Next change"]');
  await next.click();
  await next.click();
  await frame.waitForSelector('.row.current');
  await page.mouse.move(0, 0);
  await page.waitForTimeout(600);
  await page.screenshot({ path: out('layer-json.png') });
  console.log(`wrote ${out('layer-json.png')}`);
});

/** The inner frame of the visible webview of an extension (code-server: pre/index.html > pre/fake.html). */
async function webviewFrame(page, extension, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const frame = page.frames().find((f) => /pre\/fake\.html/.test(f.url())
      && /pre\/index\.html/.test(f.parentFrame()?.url() ?? '') && f.parentFrame().url().includes(`extensionId=${extension}`));
    if (frame) return frame;
    await page.waitForTimeout(100);
  }
  throw new Error(`no webview of ${extension} appeared within ${timeout} ms`);
}

// Compare with Parent on a LABEL step: the native diff editor over two read-only
// docker-layer: documents (sorted keys, so only what the step changed differs).
if (want('compare')) await withWorkbench({ settings: { 'dockerLayers.roots': [sample], 'workbench.colorTheme': 'Default Dark Modern' } }, async (page) => {
  await page.click('.part.activitybar .action-label[aria-label="Docker Layers"]', { timeout: 30_000 });
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'sample/app:1.0' }).first().waitFor({ timeout: 30_000 });
  await rows.filter({ hasText: 'sample/app:1.0' }).first().click();
  const step = rows.filter({ hasText: 'LABEL org.example.note' }).first();
  await step.waitFor();
  await step.hover();
  await step.locator('.action-label[aria-label="Compare with Parent"]').click();
  await page.waitForSelector('.monaco-diff-editor .line-insert', { timeout: 30_000 });
  await page.mouse.move(5, 5); // no hover highlight or tooltip over the picture
  await page.waitForTimeout(1000);
  await page.screenshot({ path: out('compare.png') });
  console.log(`wrote ${out('compare.png')}`);
});

// The Layer Files view: sample/base:1's whiteout step ("ADD changes.tar", aufs whiteouts) listed
// with its badges (A added, M modified, D deleted) under the Images view. A click on the step
// selects it (the files follow the selection) and opens its JSON, which the picture leaves out.
if (want('layer-files')) await withWorkbench({ settings: { 'dockerLayers.roots': [sample], 'workbench.colorTheme': 'Default Dark Modern' } }, async (page) => {
  await page.click('.part.activitybar .action-label[aria-label="Docker Layers"]', { timeout: 30_000 });
  await widenSideBar(page, 640);
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'sample/base:1' }).first().waitFor({ timeout: 30_000 });
  await rows.filter({ hasText: 'sample/base:1' }).first().click();
  const step = rows.filter({ hasText: 'ADD changes.tar' }).first();
  await step.waitFor();
  await step.click();
  // The listing opens its folders (a small layer); decorations come 5-100 ms after the rows.
  await rows.filter({ hasText: 'c.conf' }).first().waitFor({ timeout: 30_000 });
  await page.waitForTimeout(600);
  await page.mouse.move(bar ? bar.x + 300 : 300, 420); // an empty part of the Images view: no hover highlight, no tooltip
  await page.waitForTimeout(400);
  // The activity bar and the side bar only.
  const side = await page.locator('.part.sidebar').boundingBox();
  const clip = side ? { x: 0, y: side.y, width: Math.ceil(side.x + side.width + 1), height: 900 - side.y } : undefined;
  await page.screenshot({ path: out('layer-files.png'), clip });
  console.log(`wrote ${out('layer-files.png')}`);
});
