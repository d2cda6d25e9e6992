// Runs the same integration suite in desktop VS Code through @vscode/test-electron,
// for machines that can download VS Code (cached in .vscode-test/). The extension
// runs from the repository (npm run build first). Offline, this says so and exits 1:
// use `npm test`, which runs the suite in code-server.
//
//   node scripts/testElectron.mjs [--grep REGEXP]
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runTests } from '@vscode/test-electron';
import { REPO, testInputs } from './vscodeHost.mjs';

const TESTS = path.join(REPO, 'dist-test', 'integration', 'index.js');
const NETWORK_ERRORS = /getaddrinfo|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|socket hang up/i;

const { values: opts } = parseArgs({ options: { grep: { type: 'string' } } });

async function main() {
  if (!existsSync(TESTS)) throw new Error(`${path.relative(REPO, TESTS)} is missing: run \`npm run build\` first`);
  const inputs = testInputs();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dle-electron-'));
  const workspace = path.join(tmp, 'workspace');
  const userData = path.join(tmp, 'user-data');
  mkdirSync(workspace);
  mkdirSync(path.join(userData, 'User'), { recursive: true });
  writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    ...inputs.settings,
  }, null, 2));
  try {
    return await runTests({
      extensionDevelopmentPath: REPO,
      extensionTestsPath: TESTS,
      extensionTestsEnv: { ...inputs.env, ...(opts.grep ? { DLE_TEST_GREP: opts.grep } : {}) },
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--user-data-dir', userData],
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err) => {
  const message = String(err?.message ?? err).split('\n')[0];
  if (NETWORK_ERRORS.test(message) || NETWORK_ERRORS.test(String(err?.code ?? ''))) {
    console.error(`VS Code could not be downloaded: ${message}; use npm test, which runs the suite in code-server`);
  } else {
    console.error(`Integration tests (desktop VS Code) failed: ${message}`);
  }
  process.exit(1);
});
