#!/usr/bin/env node
// fleetkeeper command line. Each sub-command lives in cli/commands/<name>.ts
// and exports `register(program)`; this file only wires them together.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('fleetkeeper')
  .description('GitOps reconciler for a fleet of ERPNext hosts')
  .version(pkg.version)
  .showHelpAfterError();

// Sub-commands register themselves here (one import per command).
import * as planCommand from './commands/plan.js';
import * as applyCommand from './commands/apply.js';
import * as statusCommand from './commands/status.js';
import * as validateCommand from './commands/validate.js';
import * as importAnsibleCommand from './commands/import-ansible.js';
import * as keyscanCommand from './commands/keyscan.js';
const commands: Array<{ register(program: Command): void }> = [
  // fleet: validate, import-ansible, keyscan
  validateCommand,
  importAnsibleCommand,
  keyscanCommand,
  planCommand,
  applyCommand,
  statusCommand,
];
for (const c of commands) c.register(program);

await program.parseAsync(process.argv);
