// A real VS Code host with no internet: code-server (VS Code's server and web
// workbench, from the npm registry) driven by Debian's Chromium through
// playwright-core. See ../../shared/VSCODE-HOST.md for why each step is here.
//
//   ensureCodeServer()      install code-server once into .cache/vscode-host/
//   installVsix(vsix, dir)  install a packaged .vsix the way users do
//   startCodeServer(opts)   a private server on 127.0.0.1, in its own process group
//   launchBrowser()         headless Chromium that only reaches 127.0.0.1
//   testInputs()            the test roots the integration suite reads
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync,
  renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const VSIX = path.join(REPO, '.cache', 'dle.vsix');
export const EXTENSION_ID = 'docker-layer-explorer.docker-layer-explorer';

const CODE_SERVER_VERSION = '4.100.3';
const HOST_DIR = path.join(REPO, '.cache', 'vscode-host');
const INSTALL_DIR = path.join(HOST_DIR, `code-server-${CODE_SERVER_VERSION}`);
const STAMP = path.join(INSTALL_DIR, 'installed.json');
const BIN = path.join(INSTALL_DIR, 'node_modules', '.bin', 'code-server');
const CHROMIUM = '/usr/bin/chromium';
const APT_PACKAGES = ['libkrb5-dev', 'ripgrep', 'chromium'];
const RIPGREP = { version: '1.15.11', asset: 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz' };

// Only loopback: a gallery that refuses at once, and a browser that resolves nothing else.
const NO_GALLERY = JSON.stringify({
  serviceUrl: 'http://127.0.0.1:9/gallery',
  itemUrl: 'http://127.0.0.1:9/items',
  resourceUrlTemplate: 'http://127.0.0.1:9/resource/{publisher}/{name}/{version}/{path}',
});
const BROWSER_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];
const CLEAN_SETTINGS = {
  'workbench.colorTheme': 'Default Dark Modern',
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
};

// ---------------------------------------------------------------- install

/** Installs code-server (and the Debian packages it needs) on first use; then returns at once. */
export async function ensureCodeServer({ log = console.log } = {}) {
  if (existsSync(STAMP) && existsSync(BIN) && existsSync(CHROMIUM)) return { bin: BIN, dir: INSTALL_DIR };
  const started = Date.now();
  ensureAptPackages(log);
  placeRipgrepCache();
  log(`Installing code-server ${CODE_SERVER_VERSION} into ${path.relative(REPO, INSTALL_DIR)} (first run only, about 2 minutes)…`);
  const partial = `${INSTALL_DIR}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  writeFileSync(path.join(partial, 'package.json'), `${JSON.stringify({
    name: 'dle-vscode-host',
    private: true,
    description: 'code-server for the integration tests; made by scripts/vscodeHost.mjs',
    dependencies: { 'code-server': CODE_SERVER_VERSION },
    // npm 11: the dependencies whose install scripts we mean to run (code-server's builds lib/vscode).
    allowScripts: { 'code-server': true, argon2: true },
  }, null, 2)}\n`);
  const logFile = path.join(HOST_DIR, 'install.log');
  const status = await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=http'], {
    cwd: partial,
    logFile,
    env: {
      ...process.env,
      npm_config_unsafe_perm: 'true', // code-server's postinstall refuses to run as root without it
      npm_config_yes: 'true', // its nested `npx node-gyp` must not stop at a prompt
      npm_config_strict_allow_scripts: 'false', // lib/vscode's native modules must build
      npm_config_update_notifier: 'false',
    },
  });
  if (status !== 0) {
    throw new Error(`npm install code-server@${CODE_SERVER_VERSION} failed (status ${status}); `
      + `last lines of ${logFile}:\n${tail(logFile, 30)}`);
  }
  const version = codeServerSync(path.join(partial, 'node_modules', '.bin', 'code-server'), ['--version']);
  if (version.status !== 0 || !version.stdout.includes(CODE_SERVER_VERSION)) {
    throw new Error(`code-server installed but does not start: ${version.stderr || version.stdout}`);
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(path.join(partial, 'installed.json'), `${JSON.stringify({ version: version.stdout.trim(), seconds }, null, 2)}\n`);
  rmSync(INSTALL_DIR, { recursive: true, force: true });
  renameSync(partial, INSTALL_DIR);
  log(`code-server installed in ${seconds} s: ${version.stdout.trim().split('\n')[0]}`);
  return { bin: BIN, dir: INSTALL_DIR };
}

function ensureAptPackages(log) {
  const missing = APT_PACKAGES.filter((p) => {
    const q = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return q.status !== 0 || !q.stdout.includes('install ok installed');
  });
  if (!missing.length) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`Debian packages missing: ${missing.join(' ')}. Install them (sudo apt-get install ${missing.join(' ')}) or run as root.`);
  }
  log(`Installing Debian packages: ${missing.join(' ')}…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', ...missing]]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed:\n${(r.stderr || r.stdout).slice(-3000)}`);
  }
}

// @vscode/ripgrep's postinstall downloads from GitHub, unless its cache already has the archive.
function placeRipgrepCache() {
  const dir = path.join(os.tmpdir(), `vscode-ripgrep-cache-${RIPGREP.version}`);
  const file = path.join(dir, RIPGREP.asset);
  if (existsSync(file)) return;
  const rg = spawnSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).stdout.trim();
  if (!rg) throw new Error('ripgrep (rg) is not installed');
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('tar', ['czf', file, '-C', path.dirname(rg), path.basename(rg)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not pack ${rg} into ${file}: ${r.stderr}`);
}

/** `code-server --version`, first line ("4.100.3 <commit> with Code 1.100.3"). */
export function codeServerVersion() {
  return codeServerSync(BIN, ['--version']).stdout.trim().split('\n')[0];
}

// Even `code-server --version` writes ~/.config/code-server/config.yaml unless given --config.
function codeServerSync(bin, args) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dle-code-server-'));
  try {
    return spawnSync(bin, ['--config', writeConfig(dir), ...args], {
      encoding: 'utf8', env: { ...process.env, ...isolatedHome(dir) },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Installs a .vsix as users do; returns the folder the extension was unpacked into. */
export async function installVsix(vsix, extensionsDir, { configDir } = {}) {
  if (!existsSync(vsix)) {
    throw new Error(`${path.relative(process.cwd(), vsix)} is missing: run \`npm run package\` first`);
  }
  mkdirSync(extensionsDir, { recursive: true });
  const cfgDir = configDir ?? mkdtempSync(path.join(os.tmpdir(), 'dle-vsix-'));
  const config = writeConfig(cfgDir);
  const r = spawnSync(BIN, ['--config', config, '--user-data-dir', path.join(cfgDir, 'user-data'),
    '--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'], {
    encoding: 'utf8', env: { ...process.env, ...isolatedHome(cfgDir), EXTENSIONS_GALLERY: NO_GALLERY },
  });
  if (!configDir) rmSync(cfgDir, { recursive: true, force: true });
  const folders = readdirSync(extensionsDir).filter((f) => statSync(path.join(extensionsDir, f)).isDirectory()
    && existsSync(path.join(extensionsDir, f, 'package.json')));
  if (r.status !== 0 || folders.length !== 1) {
    throw new Error(`code-server --install-extension ${vsix} failed (status ${r.status}, folders: ${folders.join(', ') || 'none'}):\n${r.stdout}${r.stderr}`);
  }
  return path.join(extensionsDir, folders[0]);
}

// ---------------------------------------------------------------- server

/**
 * Starts code-server on a free loopback port with a clean user profile (settings.json
 * written first: a clean screen, plus `settings`). `env` reaches the extension host.
 * Its config file, log and XDG folders go beside userDataDir. `user` (codeServerUser()) runs it as that user.
 * Returns { url, port, workspace, log, stop() }; stop() ends the whole process group.
 */
export async function startCodeServer({ workspace, userDataDir, extensionsDir, settings = {}, env = {}, logFile, user } = {}) {
  const base = path.dirname(userDataDir);
  mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  writeFileSync(path.join(userDataDir, 'User', 'settings.json'),
    `${JSON.stringify({ ...CLEAN_SETTINGS, ...settings }, null, 2)}\n`);
  const port = await freePort();
  const config = writeConfig(base);
  const log = logFile ?? path.join(base, 'code-server.log');
  const out = openSync(log, 'a');
  if (user) chownTree(base, user); // its profile, extensions, workspace and log are the user's
  const child = spawn(BIN, [
    '--config', config, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, workspace,
  ], {
    detached: true, // its own process group: stop() signals every child with it
    stdio: ['ignore', out, out],
    env: { ...process.env, ...isolatedHome(base), EXTENSIONS_GALLERY: NO_GALLERY, ...(user ? { HOME: base, USER: user.name } : {}), ...env },
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  closeSync(out);
  const exited = once(child, 'exit');
  // If this process ends first (an error, Ctrl-C, playwright's own SIGINT handler), the group goes too.
  const killOnExit = () => signalGroup(child.pid, 'SIGKILL');
  process.on('exit', killOnExit);
  exitOnSignals();
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) signalGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    signalGroup(child.pid, 'SIGKILL'); // any child that outlived the leader
  };
  try {
    await waitForHealth(url, child, log);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port, workspace, log, stop };
}

/** A local user to run code-server as (root only): { name, uid, gid }. */
export function codeServerUser(name) {
  if (process.getuid?.() !== 0) throw new Error(`only root can start code-server as ${name}`);
  const id = (flag) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || spawnSync('id', [name]).status !== 0) throw new Error(`no such user: ${name}`);
  return { name, uid, gid };
}

/** Gives a folder made for code-server (profile, extensions, workspace) to the user it runs as. */
export function chownTree(dir, { uid, gid }) {
  const r = spawnSync('chown', ['-R', `${uid}:${gid}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chown -R ${uid}:${gid} ${dir} failed: ${r.stderr}`);
}

let signalsHandled = false;
// Turns SIGINT/SIGTERM into process.exit, so that 'exit' handlers (ours, playwright's) stop what we started.
export function exitOnSignals() {
  if (signalsHandled) return;
  signalsHandled = true;
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}

/** Removes dir when this process exits, however it exits; call the result to remove it now. */
export function removeOnExit(dir) {
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', remove);
  return () => {
    process.off('exit', remove);
    remove();
  };
}

function signalGroup(pid, signal) {
  try { process.kill(-pid, signal); } catch { /* already gone */ }
}

async function waitForHealth(url, child, log) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}:\n${tail(log, 30)}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`code-server did not listen on ${url} within 30 s:\n${tail(log, 30)}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A config file of our own, so code-server never writes ~/.config/code-server/config.yaml.
function writeConfig(dir) {
  const file = path.join(dir, 'code-server.yaml');
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, 'auth: none\ncert: false\n');
  return file;
}

// Keep code-server's own state (heartbeat, logs, coder.json) out of ~.
function isolatedHome(dir) {
  return {
    XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
    XDG_DATA_HOME: path.join(dir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(dir, 'xdg-cache'),
  };
}

/** Workbench URL for a folder, with an optional test payload. */
export function workbenchUrl(server, { payload } = {}) {
  let url = `${server.url}/?folder=${encodeURIComponent(server.workspace)}`;
  if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return url;
}

/** A path on the server as the workbench names it. */
export function remoteUri(server, fsPath) {
  return `vscode-remote://127.0.0.1:${server.port}${fsPath}`;
}

// ---------------------------------------------------------------- browser

/** Headless Debian Chromium through playwright-core; resolves no host but loopback. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  // Chromium keeps crash reports and dconf state under ~, and its singleton socket in $TMPDIR,
  // whatever its profile: give it a home of its own, removed when we exit.
  const home = mkdtempSync(path.join(os.tmpdir(), 'dle-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS,
    env: { ...process.env, HOME: home, TMPDIR: home, ...isolatedHome(home) },
  }).catch((e) => {
    rmSync(home, { recursive: true, force: true });
    throw e;
  });
  const removeHome = removeOnExit(home);
  browser.on('disconnected', removeHome);
  return browser;
}

// ---------------------------------------------------------------- test inputs

/**
 * What the integration suite reads, and the settings that make the extension start
 * on the overlay2 root. DLE_REPO is the repository; DLE_TEST_ROOTS is JSON, with
 * only the folders that exist:
 *   { overlay2, vfs, containerd, legacy        .cache/extracted/<name>/root
 *     dockerTruth: { overlay2, vfs }            .cache/roots/truth/<name>
 *     truth: { overlay2, vfs, containerd, legacy }
 *     shared: { <name>: dir } }                 .cache/extracted/shared/<name> (../shared/fixtures)
 */
export function testInputs() {
  const extracted = path.join(REPO, '.cache', 'extracted');
  const truth = path.join(REPO, '.cache', 'roots', 'truth');
  const roots = {};
  for (const name of ['overlay2', 'vfs', 'containerd', 'legacy']) {
    const dir = path.join(extracted, name, 'root');
    if (existsSync(dir)) roots[name] = dir;
  }
  const pick = (names) => Object.fromEntries(names
    .map((n) => [n, path.join(truth, n)]).filter(([, dir]) => existsSync(dir)));
  roots.dockerTruth = pick(['overlay2', 'vfs']); // what a Docker daemon answered for those roots
  roots.truth = pick(['overlay2', 'vfs', 'containerd', 'legacy']); // every root's recorded truth
  const shared = path.join(extracted, 'shared');
  if (existsSync(shared)) {
    roots.shared = Object.fromEntries(readdirSync(shared)
      .filter((f) => !f.includes('.stamp') && statSync(path.join(shared, f)).isDirectory())
      .map((f) => [f, path.join(shared, f)]));
  }
  // The corpus of broken and hostile roots (test/fixtures/makeHostile.mjs): OUTDIR with manifest.json.
  const hostile = path.join(REPO, '.cache', 'hostile');
  if (existsSync(path.join(hostile, 'manifest.json'))) roots.hostile = hostile;
  return {
    env: { DLE_TEST_ROOTS: JSON.stringify(roots), DLE_REPO: REPO },
    settings: roots.overlay2 ? { 'dockerLayers.roots': [roots.overlay2] } : {},
  };
}

// ---------------------------------------------------------------- helpers

function run(cmd, args, { cwd, env, logFile }) {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'w');
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', out, out] });
  closeSync(out);
  return new Promise((resolve) => {
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(signal ? 128 : code));
  });
}

export function tail(file, lines) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
