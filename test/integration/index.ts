// Entry point of the integration suite, for either host: code-server
// (scripts/testIntegration.mjs) or desktop VS Code (scripts/testElectron.mjs).
// Bundled by scripts/build.mjs into dist-test/integration/index.js.
// Each *.test.ts registers its tests when imported; add new files here.
import { run as runHarness } from './harness';
import './smoke.test';
import './imagesTree.test';
import './layerJsonEditor.test';
import './layerFileSystem.test';
import './layerFiles.test';
import './pathHistory.test';
import './export.test';
import './containers.test';
import './efficiency.test';
import './sharing.test';
import './webviewSafety.test';
import './trust.test';
import './permission.test';
import './hostile.test';
import './hostileUnreadable.test';
import './hostileLayerRemoved.test';
import './compare.test';
import './compareXattrs.test';
import './findPath.test';
import './findPathContent.test';
import './archives.test';
import './rawNames.test';

export function run(): Promise<void> {
  return runHarness();
}
