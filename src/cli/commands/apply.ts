// fleetkeeper apply [DIR]: bring the hosts to what the local checkout says,
// ring by ring, with live progress. For when the bot (or GitHub) is not there.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { renderPlanText } from '../../report/plan.js';
import { createProgressView } from '../../report/progress.js';
import { renderResultsText } from '../../report/results.js';
import { applyRollout } from '../../rollout/apply.js';
import { CliError, createDriver, newRunId, openLocalFleet } from '../../rollout/local.js';
import { planRollout } from '../../rollout/plan.js';
import { FileStateStore, stateDirFromEnv } from '../../rollout/state.js';

interface ApplyFlags {
  ring?: string;
  yes?: boolean;
  stateDir?: string;
  bake: boolean;
  ignoreWindows?: boolean;
  verbose?: boolean;
}

export function register(program: Command): void {
  program
    .command('apply')
    .description('apply the fleet in DIR to its hosts over SSH, ring by ring (asks first unless --yes)')
    .argument('[dir]', 'fleet directory (a checkout of the fleet repo)', '.')
    .option('--ring <ring>', 'only this ring')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .option('--state-dir <dir>', 'rollout state (journal, bad tags, bake); default $FLEETKEEPER_STATE_DIR or ~/.local/state/fleetkeeper')
    .option('--no-bake', 'do not wait for a ring\'s bake time before the next ring')
    .option('--ignore-windows', 'change hosts even outside their maintenance window')
    .option('-v, --verbose', 'print every step on a terminal too')
    .action(async (dir: string, flags: ApplyFlags) => {
      try {
        process.exitCode = await runApply(dir, flags);
      } catch (e) {
        if (e instanceof CliError) {
          process.stderr.write(`fleetkeeper apply: ${e.message}\n`);
          process.exitCode = e.exitCode;
          return;
        }
        throw e;
      }
    });
}

async function runApply(dir: string, flags: ApplyFlags): Promise<number> {
  const tty = !!process.stdout.isTTY;
  if (!flags.yes && !process.stdin.isTTY) {
    throw new CliError('not on a terminal: refusing to apply without --yes');
  }
  const local = await openLocalFleet(dir);
  for (const w of local.warnings) process.stderr.write(`warning: ${w}\n`);
  if (flags.ring && !local.head.rings[flags.ring]) {
    throw new CliError(`ring "${flags.ring}" does not exist (rings: ${local.head.ringOrder.join(', ')})`);
  }
  if (local.dirty) {
    process.stderr.write('warning: the fleet directory has uncommitted changes; applying the working tree as it is\n');
  }
  const state = await FileStateStore.open(stateDirFromEnv(flags.stateDir));
  const runId = newRunId();
  // One driver for plan and apply: one SSH connection per host for the whole run.
  const driver = createDriver(true);
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\ninterrupt: no new host starts; hosts in flight finish or roll back (Ctrl-C again to quit now)\n');
      ac.abort();
    } else {
      process.stderr.write('\nquitting: hosts in flight are left as they are; the next run re-observes them\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const plan = await planRollout({
      head: local.head,
      driver,
      mode: 'live',
      runId,
      commit: local.commit,
      ring: flags.ring,
      headLabel: local.commit ? `${local.dir}@${local.commit.slice(0, 12)}` : `${local.dir} (working tree)`,
      state,
    });
    const todo = plan.rings.flatMap((r) => r.hosts.filter((h) => h.action !== 'unchanged').map((h) => h.customerId));
    process.stdout.write(renderPlanText(plan));
    if (todo.length === 0) {
      process.stdout.write('Every host is already at its desired tag.\n');
      return 0;
    }
    if (!flags.yes) {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`Apply to ${todo.length} host(s)? Type "yes" to continue: `);
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') {
        process.stdout.write('Nothing changed.\n');
        return 1;
      }
    }
    const view = createProgressView(process.stdout, { tty, verbose: flags.verbose });
    const result = await applyRollout({
      fleet: local.head,
      driver,
      state,
      runId,
      commit: local.commit,
      ring: flags.ring,
      only: todo,
      signal: ac.signal,
      sink: view.sink,
      bake: flags.bake,
      ignoreMaintenanceWindows: flags.ignoreWindows,
    });
    view.close();
    process.stdout.write('\n' + renderResultsText(result));
    return result.status === 'succeeded' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await driver.close();
  }
}
