// After tsc: make the CLI entry executable so `bin.warden` works from a global install or npx.
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755);
