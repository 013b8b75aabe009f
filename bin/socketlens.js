#!/usr/bin/env node
// Entry point of the `socketlens` command; the implementation is compiled from cli/main.ts.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`socketlens: ${err?.message ?? err}\n`);
    process.exitCode = 1;
  },
);
