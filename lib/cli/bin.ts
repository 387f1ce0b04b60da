#!/usr/bin/env node
/** The `cachette` command (package.json `bin`). */
import { main } from './main.js';

// A reader that stops early (`cachette ls | head`) closes the pipe: the command ends quietly, as Unix commands do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
}

process.exitCode = await main(process.argv.slice(2), { out: process.stdout, err: process.stderr, in: process.stdin });
