/**
 * The CLI against what a real Docker daemon answered for the same root:
 * `docker image ls -a`, `docker image inspect`, `docker history --no-trunc`,
 * `docker diff`. Runs on the project's own roots and on ../shared/fixtures.
 */
import { test } from 'node:test';
import { checkTruth } from './support/dockerTruth';
import { projectRoot, sharedRoot, whyMissing, type TestRoot } from './support/roots';

const CASES: [string, () => TestRoot | undefined][] = [
  ['project overlay2', () => projectRoot('overlay2')],
  ['project vfs', () => projectRoot('vfs')],
  ['shared docker20-overlay2', () => sharedRoot('docker20-overlay2')],
];

for (const [name, get] of CASES) {
  test(`${name}: images, tags, layers, history and container diff equal the daemon's answers`, async (t) => {
    const r = get();
    if (!r) return t.skip(whyMissing(name.split(' ')[1]));
    await checkTruth(t, r.root, r.truth);
  });
}
