// `fleetkeeper validate [DIR]`: check a fleet repo and print every problem
// with its file and line. Exit 1 on any error; usable as a pre-commit hook
// and in CI.
import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadFleet } from '../../fleet/load.js';
import { LocalDirSource } from '../../fleet/source-local.js';
import { formatError, formatGithubAnnotation } from '../../fleet/format.js';
import type { FleetError, LoadResult } from '../../fleet/types.js';

type Format = 'text' | 'json' | 'github';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Paths as the user can open them from where they ran the command. */
function withDir(dir: string, e: FleetError): FleetError {
  return { ...e, file: join(dir, e.file).split('\\').join('/') };
}

export function renderResult(dir: string, result: LoadResult, format: Format): string {
  const errors = result.ok ? [] : result.errors;
  const problems = [...errors, ...result.warnings].map((e) => withDir(dir, e))
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  if (format === 'json') {
    const summary = result.ok
      ? { customers: Object.keys(result.fleet.customers).length, rings: result.fleet.ringOrder }
      : undefined;
    return JSON.stringify({ ok: result.ok, dir, errors: errors.map((e) => withDir(dir, e)), warnings: result.warnings.map((e) => withDir(dir, e)), summary }, null, 2);
  }
  const lines = problems.map((e) => (format === 'github' ? formatGithubAnnotation(e) : formatError(e)));
  if (result.ok) {
    const f = result.fleet;
    const perRing = f.ringOrder.map((r) => `${r} ${Object.values(f.customers).filter((c) => c.ring === r).length}`).join(', ');
    lines.push(`${dir}: ${plural(Object.keys(f.customers).length, 'customer')} in ${plural(f.ringOrder.length, 'ring')} (${perRing}); ${result.warnings.length ? plural(result.warnings.length, 'warning') : 'no problems'}`);
  } else {
    lines.push(`${dir}: ${plural(errors.length, 'error')}${result.warnings.length ? `, ${plural(result.warnings.length, 'warning')}` : ''}`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a fleet repo (defaults.yml, rings/, customers/) and print every problem as file:line:col')
    .argument('[dir]', 'fleet root directory', '.')
    .option('--format <format>', 'text, json, or github (workflow annotations)', 'text')
    .action(async (dir: string, opts: { format: string }) => {
      const format = opts.format as Format;
      if (!['text', 'json', 'github'].includes(format)) {
        program.error(`unknown --format '${opts.format}' (text, json or github)`);
      }
      try {
        if (!statSync(dir).isDirectory()) throw new Error('not a directory');
      } catch (e) {
        process.stderr.write(`fleetkeeper validate: cannot read fleet directory '${dir}': ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const result = await loadFleet(new LocalDirSource(dir));
      process.stdout.write(renderResult(dir, result, format) + '\n');
      if (!result.ok) process.exitCode = 1;
    });
}
