// Runs the integration suite (dist-test/integration/index.js) inside a real
// VS Code: code-server in headless Chromium, offline. The extension under test
// is the packaged .vsix (npm run package), installed as users install it.
//
//   node scripts/testIntegration.mjs [--vsix FILE] [--tests FILE] [--grep REGEXP] [--timeout SECONDS] [--keep] [--user NAME]
//
// --grep runs only the tests whose "suite › test" name matches; --keep keeps the
// temporary folder (workspace, profile, code-server.log); --user (as root) runs
// code-server, and so the extension, as that user (`--user nobody`: Docker's
// root-only folders are then unreadable, as for most people; the hostile cases made for
// that user are fingerprinted here, as root, before and after: see rootSideCheck). Exits
// with the suite's status; 1 on a timeout (default 30 minutes), when the host cannot start,
// or when a root the host read as that user changed.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { startPageBridge } from './pageBridge.mjs';
import {
  REPO, VSIX, codeServerUser, codeServerVersion, ensureCodeServer, exitOnSignals, installVsix, launchBrowser,
  remoteUri, removeOnExit, startCodeServer, tail, testInputs, workbenchUrl,
} from './vscodeHost.mjs';

const PREFIX = '  │ ';

const { values: opts } = parseArgs({
  options: {
    vsix: { type: 'string', default: VSIX },
    tests: { type: 'string', default: path.join(REPO, 'dist-test', 'integration', 'index.js') },
    grep: { type: 'string' },
    timeout: { type: 'string', default: '1800' }, // the hostile corpus alone takes ~10 minutes (its million-entry root ~4)
    keep: { type: 'boolean' },
    user: { type: 'string' },
  },
});
const TIMEOUT_MS = Number(opts.timeout) * 1000;
const TESTS = path.resolve(opts.tests);

async function main() {
  const vsix = path.resolve(opts.vsix);
  if (!existsSync(TESTS)) throw new Error(`${path.relative(REPO, TESTS)} is missing: run \`npm run build\` first`);
  if (!existsSync(vsix)) throw new Error(`${path.relative(REPO, vsix)} is missing: run \`npm run package\` first`);

  const built = path.join(REPO, 'dist', 'extension.js');
  if (existsSync(built) && statSync(built).mtimeMs > statSync(vsix).mtimeMs && vsix === VSIX) {
    throw new Error(`${path.relative(REPO, vsix)} is older than dist/extension.js: run \`npm run package\` again`);
  }

  const started = Date.now();
  await ensureCodeServer();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dle-integration-'));
  const inputs = testInputs();
  const bridge = await startPageBridge(); // the tests' way to the page's DOM (test/integration/page.ts)
  // Not root: the host already runs as an unprivileged user, which is what --user is for.
  const user = opts.user && process.getuid?.() === 0 ? codeServerUser(opts.user) : undefined;
  if (opts.user && !user) console.log(`--user ${opts.user}: not root, so the host runs as this user (uid ${process.getuid?.()})`);
  let server;
  let browser;
  let summary;
  let status = 1;
  exitOnSignals(); // Ctrl-C: the exit handlers stop code-server and Chromium and remove tmp
  const removeTmp = opts.keep ? () => console.log(`Kept ${tmp}`) : removeOnExit(tmp);
  const check = user ? await rootSideCheck(user, tmp) : undefined;
  const env = {
    ...inputs.env, ...bridge.env, ...(opts.grep ? { DLE_TEST_GREP: opts.grep } : {}),
    ...(check ? { DLE_ROOT_SIDE_FINGERPRINTS: JSON.stringify(check.roots) } : {}),
  };
  try {
    const workspace = path.join(tmp, 'workspace');
    mkdirSync(workspace);
    const extension = await installVsix(vsix, path.join(tmp, 'ext'), { configDir: path.join(tmp, 'install') });
    console.log(`Installed ${path.basename(vsix)} → ${extension}`);
    if (user) console.log(`code-server runs as ${opts.user} (uid ${user.uid})`);
    server = await startCodeServer({
      user,
      workspace,
      userDataDir: path.join(tmp, 'user-data'),
      extensionsDir: path.join(tmp, 'ext'),
      settings: inputs.settings,
      env,
    });
    console.log(`code-server on ${server.url} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    browser = await launchBrowser();
    const page = await browser.newPage();
    bridge.attach(page);

    let finish;
    const finished = new Promise((resolve) => { finish = resolve; });
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = (Array.isArray(args) ? args : [args]).map(format).join(' ');
      for (const line of text.split('\n')) {
        if (/^\d+ passed, \d+ failed(, \d+ skipped)?$/.test(line)) summary = line;
        (type === 'error' ? process.stderr : process.stdout).write(`${PREFIX}${line}\n`);
      }
    });
    await page.exposeFunction('codeAutomationExit', (code) => finish({ code: Number(code) }));
    page.on('crash', () => finish({ error: 'the workbench page crashed' }));
    page.on('pageerror', (e) => console.error(`${PREFIX}[page] ${e.message}`));

    const payload = [
      ['extensionDevelopmentPath', remoteUri(server, extension)],
      ['extensionTestsPath', remoteUri(server, TESTS)],
      ['skipWelcome', 'true'],
    ];
    await page.goto(workbenchUrl(server, { payload }));
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve({
        error: `the suite did not finish within ${opts.timeout} s (no codeAutomationExit); `
          + `last lines of ${server.log}:\n${tail(server.log, 20)}`,
      }), TIMEOUT_MS);
    });
    const result = await Promise.race([finished, timeout]);
    clearTimeout(timer);
    if (result.error) {
      console.error(`Integration tests: ${result.error}`);
    } else {
      status = result.code;
    }
  } finally {
    await browser?.close().catch(() => {});
    await server?.stop();
    await bridge.close();
    removeTmp();
  }

  if (check) {
    const differs = check.differs();
    if (differs) status = 1;
    console.log(`Read-only check (as root): ${differs ?? `the ${check.roots.length} roots ${opts.user}'s host opened are unchanged`}`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\nVS Code host: code-server ${codeServerVersion()}`);
  console.log(`Integration suite: ${summary ?? 'no summary line (the suite did not run to its end)'}; `
    + `exit status ${status}, ${seconds} s`);
  if (status === 0 && !summary) status = 1;
  return status;
}

/**
 * The read-only check of the roots a host run as another user opens: the hostile
 * cases made for that user (.cache/hostile/manifest.json, `user`), which it cannot
 * read whole, so cannot fingerprint. Fingerprinted here, as root, before the host
 * starts; differs() fingerprints them again (after it stopped) and says which differ,
 * undefined when none does. The folders above each root are made traversable for the user, as
 * makeHostile.mjs makes them (a corpus copied or remade since may have lost that);
 * nothing inside a root is touched.
 */
async function rootSideCheck(user, tmp) {
  const manifest = path.join(REPO, '.cache', 'hostile', 'manifest.json');
  if (!existsSync(manifest)) return undefined;
  const read = () => JSON.parse(readFileSync(manifest, 'utf8'));
  const { key, cases } = read();
  const roots = cases.filter((c) => c.user?.uid === user.uid).map((c) => c.root);
  if (roots.length === 0) return undefined;
  for (const root of roots) reachable(root, user);
  // The suites' own fingerprint() (test/unit/support/fingerprint.ts), bundled for this script.
  const outfile = path.join(tmp, 'fingerprint.cjs');
  await esbuild.build({ entryPoints: [path.join(REPO, 'test', 'unit', 'support', 'fingerprint.ts')], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'warning' });
  const { fingerprint } = createRequire(import.meta.url)(outfile);
  const before = new Map(roots.map((r) => [r, fingerprint(r)]));
  console.log(`Fingerprinted, as root, the ${roots.length} roots ${user.name}'s host opens: ${roots.map((r) => path.relative(REPO, r)).join(', ')}`);
  return {
    roots,
    differs() {
      const changed = roots.filter((r) => fingerprint(r) !== before.get(r));
      if (changed.length === 0) return undefined;
      // Another test run may have made the corpus again (a new copy in place): then nothing can be told.
      const now = read().key;
      if (now !== key) return `the corpus was made again during the run (key ${key.slice(0, 12)} → ${now.slice(0, 12)}): its roots cannot be compared; run again`;
      return `CHANGED while ${user.name} read them: ${changed.join(', ')}`;
    },
  };
}

/** Gives `user` search (x) on the folders above `root` inside the repository; fails when it still cannot reach it. */
function reachable(root, user) {
  for (let d = path.dirname(root); d.startsWith(REPO + path.sep); d = path.dirname(d)) {
    const st = statSync(d);
    const x = (st.mode & 0o001) || (st.uid === user.uid && st.mode & 0o100) || (st.gid === user.gid && st.mode & 0o010);
    if (!x) {
      chmodSync(d, st.mode | 0o001);
      console.log(`${path.relative(REPO, d)}: o+x, so that ${user.name} reaches ${path.relative(REPO, root)}`);
    }
  }
  const r = spawnSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'test', '-r', root, '-a', '-x', root]);
  if (r.status !== 0) throw new Error(`${root}: ${user.name} (uid ${user.uid}) cannot open it: make its folders traversable (o+x)`);
}

function format(arg) {
  if (typeof arg === 'string') return arg;
  try {
    return JSON.stringify(arg);
  } catch {
    return String(arg);
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(`Integration tests could not run: ${err.message}`);
  process.exit(1);
});
