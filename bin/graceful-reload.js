#!/usr/bin/env node
// graceful-reload's command-line tool: the action's own bundle (dist/index.cjs),
// marked to run as the CLI (src/index.ts says why one bundle serves both). See `graceful-reload --help`.
import { createRequire } from 'node:module';

globalThis[Symbol.for('graceful-reload.cli')] = true;
createRequire(import.meta.url)('../dist/index.cjs');
