import { runCli } from './cli.js';

/** `npm run ledger -- <command>` (after `npm run build`): audit, replay and projection rebuilds. */
runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 3;
  },
);
