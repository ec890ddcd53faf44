// Loaded into Warden with `node --import` (NODE_OPTIONS) by the end-to-end subset on Node 22 and 24
// (scripts/e2e-node.sh): resolves better-sqlite3 to a build for that Node's ABI, kept outside the
// clone by scripts/sqlite-native.sh, instead of the clone's node_modules build for the machine's
// Node (a native addon loads under the ABI it was compiled for only). Everything else resolves as
// usual. The build's directory comes in this module's URL: `native-addons.mjs?sqlite=/path`.
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = new URL(import.meta.url).searchParams.get('sqlite');
if (!dir) throw new Error('native-addons.mjs: load it as native-addons.mjs?sqlite=/path/of/a/better-sqlite3/build');
const target = pathToFileURL(join(dir, 'node_modules', 'better-sqlite3', 'lib', 'index.js')).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === 'better-sqlite3') return { url: target, format: 'commonjs', shortCircuit: true };
    return nextResolve(specifier, context);
  },
});
