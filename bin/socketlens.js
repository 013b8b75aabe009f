#!/usr/bin/env node
// Entry point of the `socketlens` command; the implementation is compiled from proxy/cli.ts.
import { main } from '../dist/proxy/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`socketlens: ${err?.message ?? err}\n`);
    process.exitCode = 1;
  },
);
