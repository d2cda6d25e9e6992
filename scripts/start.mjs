// npm start: open the extension in a real VS Code.
// Desktop VS Code when `code` is on PATH (extension development host);
// otherwise code-server on 127.0.0.1 with this repository as the development
// extension, the configured roots when one is readable, else the sample root.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { REPO, ensureCodeServer, remoteUri, startCodeServer, workbenchUrl } from './vscodeHost.mjs';

const require = createRequire(import.meta.url);
const DEFAULT_ROOTS = ['/var/lib/docker', '/var/lib/containerd'];

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** A root is usable when the CLI lists its images. */
function readable(root) {
  const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.js'), '--root', root, 'images'], { stdio: 'ignore' });
  return r.status === 0;
}

if (onPath('code') && !process.env.DLE_START_CODE_SERVER) {
  console.log('Opening desktop VS Code with the extension under development…');
  const child = spawn('code', ['--new-window', `--extensionDevelopmentPath=${REPO}`], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  const roots = DEFAULT_ROOTS.filter(readable);
  let settings = {};
  if (roots.length === 0) {
    const { ensureSampleRoot } = require(path.join(REPO, 'dist-test', 'sampleRoot.js'));
    const sample = await ensureSampleRoot(path.join(REPO, 'media', 'sample-root.tar.gz'), path.join(REPO, '.cache', 'start'));
    console.log(`No readable Docker root (${DEFAULT_ROOTS.join(', ')}): showing the sample root ${sample}`);
    settings = { 'dockerLayers.roots': [sample] };
  } else {
    console.log(`Reading ${roots.join(', ')}`);
  }
  await ensureCodeServer();
  const base = path.join(REPO, '.cache', 'start');
  const workspace = path.join(base, 'workspace');
  mkdirSync(workspace, { recursive: true });
  const server = await startCodeServer({
    workspace,
    userDataDir: path.join(base, 'user-data'),
    extensionsDir: path.join(base, 'extensions'),
    settings,
  });
  const url = workbenchUrl(server, { payload: [['extensionDevelopmentPath', remoteUri(server, REPO)], ['skipWelcome', 'true']] });
  console.log(`\nDocker Layer Explorer is running in VS Code (code-server) at:\n\n  ${url}\n\nOpen it in a browser on this machine; press Ctrl-C to stop.`);
  await new Promise(() => {});
}
