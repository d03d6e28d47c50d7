// Builds dist/rotor.mjs (ES module), dist/rotor.js (script tag, window.Rotor),
// dist/server.mjs (the Node server SDK, `rotor-js/server`) and the type
// declarations, then copies the script-tag build to
// ../static/assets/rotor.js, which the server embeds and serves at
// /static/rotor.js.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

rmSync('dist', { recursive: true, force: true });
const common = { bundle: true, minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning' };
await build({ ...common, entryPoints: ['src/index.ts'], format: 'esm', outfile: 'dist/rotor.mjs', sourcemap: true });
await build({ ...common, entryPoints: ['src/global.ts'], format: 'iife', outfile: 'dist/rotor.js' });
await build({
  entryPoints: ['src/server/index.ts'], bundle: true, platform: 'node', target: 'node20', format: 'esm',
  outfile: 'dist/server.mjs', legalComments: 'none', logLevel: 'warning',
});
execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'inherit' });
mkdirSync('../static/assets', { recursive: true });
copyFileSync('dist/rotor.js', '../static/assets/rotor.js');

for (const f of ['dist/rotor.mjs', 'dist/rotor.js']) {
  const b = readFileSync(f);
  console.log(`${f}: ${b.length} bytes minified, ${gzipSync(b, { level: 9 }).length} bytes gzipped`);
}
