// The README's pictures, taken from the real product: the packaged extension
// in code-server on the shipped sample root. Run: npm run build && npm run
// package && node scripts/screenshots.mjs. Look at each picture before committing it.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { REPO } from './vscodeHost.mjs';
import { withWorkbench } from './screenshot.mjs';

const require = createRequire(import.meta.url);
const { ensureSampleRoot } = require(path.join(REPO, 'dist-test', 'sampleRoot.js'));
const out = (name) => path.join(REPO, 'docs', 'images', name);

const sample = await ensureSampleRoot(path.join(REPO, 'media', 'sample-root.tar.gz'), mkdtempSync(path.join(os.tmpdir(), 'dle-shots-')));

await withWorkbench({ settings: { 'dockerLayers.roots': [sample], 'workbench.colorTheme': 'Default Dark Modern' } }, async (page) => {
  await page.click('.part.activitybar .action-label[aria-label="Docker Layers"]', { timeout: 30_000 });
  // Widen the side bar so sizes and ages are not cut off.
  const bar = await page.locator('.part.sidebar').boundingBox();
  if (bar) {
    const y = bar.y + bar.height / 2;
    await page.mouse.move(bar.x + bar.width, y);
    await page.mouse.down();
    await page.mouse.move(bar.x + 720, y, { steps: 8 });
    await page.mouse.up();
  }
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
