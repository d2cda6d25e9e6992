// Bundles the extension, the CLI, the webview and the bench with esbuild.
// Type-checking is a separate step (npm run typecheck).
import * as esbuild from 'esbuild';
import { existsSync, readFileSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // jsonc-parser's UMD build hides its requires from the bundler: take its ESM build.
  mainFields: ['module', 'main'],
  define: { PACKAGE_VERSION: JSON.stringify(pkg.version) },
};

const entries = [
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: ['scripts/bench.ts'], outfile: 'dist/bench.js' },
  { entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  // The Layer JSON editor's webview: browser code, no Node builtins (a bundle that needs one fails here).
  { entryPoints: ['src/webview/layerJson.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'iife', target: 'chrome114', sourcemap: false },
  { entryPoints: ['test/integration/index.ts'], outfile: 'dist-test/integration/index.js', external: ['vscode'] },
  // For npm start and the screenshots: unpack the sample root outside VS Code (not shipped).
  { entryPoints: ['src/sampleRoot.ts'], outfile: 'dist-test/sampleRoot.js' },
].filter((e) => existsSync(e.entryPoints[0]));

const contexts = await Promise.all(entries.map((e) => esbuild.context({ ...common, ...e })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  if (existsSync('dist/cli.js')) chmodSync('dist/cli.js', 0o755);
}
