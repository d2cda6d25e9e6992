// Helpers for pictures of the real product: the packaged .vsix installed in
// code-server, shown in headless Chromium at 2x. The picture scripts build on
// withWorkbench().
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  VSIX, ensureCodeServer, exitOnSignals, installVsix, launchBrowser, removeOnExit, startCodeServer,
  workbenchUrl,
} from './vscodeHost.mjs';

export const VIEWPORT = { width: 1400, height: 900 };

/**
 * Starts code-server with the installed .vsix (no test payload), opens the
 * workbench on an empty folder and calls fn(page, { server, workspace, extension })
 * once the activity bar and status bar are shown. Everything is stopped afterwards;
 * returns what fn returns.
 *
 * options.settings: user settings (merged over a clean profile)
 * options.env:      environment of code-server and its extension host
 * options.vsix:     the package to install (default .cache/dle.vsix)
 */
export async function withWorkbench({ settings = {}, env = {}, vsix = VSIX } = {}, fn) {
  await ensureCodeServer();
  exitOnSignals();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dle-workbench-'));
  const removeTmp = removeOnExit(tmp);
  const workspace = path.join(tmp, 'workspace');
  mkdirSync(workspace);
  let server;
  let browser;
  try {
    const extension = await installVsix(vsix, path.join(tmp, 'ext'), { configDir: path.join(tmp, 'install') });
    server = await startCodeServer({
      workspace,
      userDataDir: path.join(tmp, 'user-data'),
      extensionsDir: path.join(tmp, 'ext'),
      settings,
      env,
    });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 2 });
    const page = await context.newPage();
    await page.goto(workbenchUrl(server));
    await page.waitForSelector('.monaco-workbench .part.activitybar', { timeout: 60_000 });
    await page.waitForSelector('.monaco-workbench .part.statusbar', { timeout: 60_000 });
    return await fn(page, { server, workspace, extension });
  } finally {
    await browser?.close().catch(() => {});
    await server?.stop();
    removeTmp();
  }
}
