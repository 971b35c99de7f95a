// fleetkeeper plan [DIR]: what a rollout of the local checkout would do.
import type { Command } from 'commander';
import { renderPlanMarkdown, renderPlanText } from '../../report/plan.js';
import { CliError, chooseBase, createDriver, newRunId, openLocalFleet } from '../../rollout/local.js';
import { connectAsBase, connectAsHead, planRollout } from '../../rollout/plan.js';
import { FileStateStore, stateDirFromEnv } from '../../rollout/state.js';

interface PlanFlags {
  base?: string | false;
  live?: boolean;
  ring?: string;
  format: string;
  details?: boolean;
  connectAs: string;
  stateDir?: string;
}

export function register(program: Command): void {
  program
    .command('plan')
    .description('show what a rollout would change, per host and ring (offline by default; --live observes hosts read-only)')
    .argument('[dir]', 'fleet directory (a checkout of the fleet repo)', '.')
    .option('--base <ref>', 'git ref to compare with (default: HEAD if the fleet has uncommitted changes, else HEAD~1)')
    .option('--no-base', 'no base: compare every customer with what its host reports')
    .option('--live', 'connect to hosts over SSH and run read-only checks (key from FLEETKEEPER_SSH_KEY_FILE / FLEETKEEPER_SSH_KEY)')
    .option('--ring <ring>', 'only this ring')
    .option('--format <format>', 'table, json or markdown', 'table')
    .option('--details', 'table format: also print each host\'s commands and file diff')
    .option('--connect-as <side>', 'live plan connection details: head (local checkout) or base (as a pull request is checked)', 'head')
    .option('--state-dir <dir>', 'where the rollout state lives (bad tags are flagged); default $FLEETKEEPER_STATE_DIR or ~/.local/state/fleetkeeper')
    .action(async (dir: string, flags: PlanFlags) => {
      try {
        process.exitCode = await runPlan(dir, flags);
      } catch (e) {
        if (e instanceof CliError) {
          process.stderr.write(`fleetkeeper plan: ${e.message}\n`);
          process.exitCode = e.exitCode;
          return;
        }
        throw e;
      }
    });
}

async function runPlan(dir: string, flags: PlanFlags): Promise<number> {
  if (!['table', 'json', 'markdown'].includes(flags.format)) throw new CliError(`--format must be table, json or markdown, not ${flags.format}`);
  if (!['head', 'base'].includes(flags.connectAs)) throw new CliError(`--connect-as must be head or base`);
  // commander sets base=true when neither --base nor --no-base is given.
  const explicit = flags.base === undefined || (flags.base as unknown) === true ? undefined : flags.base;
  const base = await chooseBase(dir, explicit);
  const local = await openLocalFleet(dir, base);
  for (const w of local.warnings) process.stderr.write(`warning: ${w}\n`);
  if (flags.ring && !local.head.rings[flags.ring]) {
    throw new CliError(`ring "${flags.ring}" does not exist (rings: ${local.head.ringOrder.join(', ')})`);
  }
  const driver = createDriver(!!flags.live);
  const offline = flags.live ? createDriver(false) : undefined;
  const state = await FileStateStore.open(stateDirFromEnv(flags.stateDir)).catch(() => undefined);
  try {
    const plan = await planRollout({
      base: local.base,
      head: local.head,
      diff: local.diff,
      driver,
      offlineDriver: offline,
      mode: flags.live ? 'live' : 'offline',
      runId: newRunId('plan'),
      commit: local.commit,
      ring: flags.ring,
      baseLabel: local.baseLabel,
      headLabel: local.dirty ? `${local.dir} (working tree)` : local.commit ? `${local.dir}@${local.commit.slice(0, 12)}` : local.dir,
      connectAs: flags.connectAs === 'base' ? connectAsBase : connectAsHead,
      state,
    });
    if (flags.format === 'json') process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
    else if (flags.format === 'markdown') process.stdout.write(renderPlanMarkdown(plan, { maxChars: Number.MAX_SAFE_INTEGER }) + '\n');
    else {
      process.stderr.write(`base: ${base.why}\n`);
      process.stdout.write(renderPlanText(plan, { details: flags.details }));
    }
    // 2 = the plan found a host that would be refused: worth a red CI step.
    return plan.summary.errors > 0 || plan.summary.blocked > 0 ? 2 : 0;
  } finally {
    await driver.close();
    await offline?.close();
  }
}
