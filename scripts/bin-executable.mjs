#!/usr/bin/env node
// tsc writes dist/cli/main.js without the execute bit, and npm links the project's own bin (what
// `npx ckbuild` runs in a fresh clone) before `prepare` compiles it: without this, the README's
// quick start fails with "ckbuild: Permission denied". tsc keeps the mode when it rewrites the file.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755);
