// Runs the plain-Node tests (node:test) over the compiled tests in out/.
// First makes the real test roots (as root; cached in .cache/) and extracts
// ../shared/fixtures where present, so the tests only read.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function step(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed with status ${r.status}`);
    process.exit(r.status ?? 1);
  }
}

for (const script of ['test/fixtures/extractShared.sh', 'test/fixtures/makeRoots.sh']) {
  if (existsSync(script)) step('bash', [script]);
}
// The corpus of broken and hostile roots, made from the roots above (cached in .cache/hostile).
if (existsSync('test/fixtures/makeHostile.mjs') && process.getuid?.() === 0) {
  step(process.execPath, ['test/fixtures/makeHostile.mjs', '.cache/hostile']);
}
const files = process.argv.slice(2);
step(process.execPath, ['--test', '--test-reporter=spec', ...(files.length ? files : ['out/test/unit/'])]);
