#!/usr/bin/env node
/** The `cachette` command (package.json `bin`). */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), { out: process.stdout, err: process.stderr, in: process.stdin });
