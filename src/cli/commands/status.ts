// fleetkeeper status [DIR]: what every host runs next to what the fleet wants.
import type { Command } from 'commander';
import pLimit from 'p-limit';
import type { Customer } from '../../fleet/types.js';
import type { Observation } from '../../host/types.js';
import { textTable } from '../../report/table.js';
import { CliError, createDriver, openLocalFleet } from '../../rollout/local.js';
import { observedTag } from '../../rollout/plan.js';

interface StatusFlags {
  ring?: string;
  format: string;
}

export interface HostStatus {
  customerId: string;
  ring: string;
  desired: string;
  envTag?: string;
  runningTag?: string;
  state: 'in-sync' | 'drift' | 'unreachable' | 'held' | 'unhealthy' | 'in-flight';
  detail: string;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('observed vs desired tag for every host (read-only SSH)')
    .argument('[dir]', 'fleet directory (a checkout of the fleet repo)', '.')
    .option('--ring <ring>', 'only this ring')
    .option('--format <format>', 'table or json', 'table')
    .action(async (dir: string, flags: StatusFlags) => {
      try {
        process.exitCode = await runStatus(dir, flags);
      } catch (e) {
        if (e instanceof CliError) {
          process.stderr.write(`fleetkeeper status: ${e.message}\n`);
          process.exitCode = e.exitCode;
          return;
        }
        throw e;
      }
    });
}

export function hostStatus(c: Customer, obs: Observation): HostStatus {
  const base = { customerId: c.id, ring: c.ring, desired: c.image.tag, envTag: obs.envTag, runningTag: obs.runningTag };
  if (!obs.reachable) return { ...base, state: 'unreachable', detail: obs.error ?? 'no answer' };
  const down = obs.services.filter((s) => s.service !== 'configurator' && s.state !== 'running');
  const notes: string[] = [];
  if (obs.lock) notes.push(`locked by run ${obs.lock.runId}${obs.lock.stale ? ' (stale: left by a crashed run)' : ''}`);
  if (obs.journal && !['healthy', 'rolled-back', 'failed'].includes(obs.journal.phase)) notes.push(`journal: ${obs.journal.phase} (${obs.journal.fromTag} → ${obs.journal.toTag})`);
  if (down.length) notes.push(`not running: ${down.map((s) => `${s.service}=${s.state}`).join(', ')}`);
  if (c.hold) notes.push(`held: ${c.hold.reason}`);
  const tag = observedTag(obs);
  let state: HostStatus['state'];
  if (obs.lock && !obs.lock.stale) state = 'in-flight';
  else if (tag !== c.image.tag || (obs.runningTag && obs.runningTag !== c.image.tag)) state = c.hold ? 'held' : 'drift';
  else if (down.length) state = 'unhealthy';
  else state = 'in-sync';
  return { ...base, state, detail: notes.join('; ') };
}

async function runStatus(dir: string, flags: StatusFlags): Promise<number> {
  if (!['table', 'json'].includes(flags.format)) throw new CliError(`--format must be table or json`);
  const local = await openLocalFleet(dir);
  if (flags.ring && !local.head.rings[flags.ring]) throw new CliError(`ring "${flags.ring}" does not exist`);
  const customers = local.head.ringOrder.flatMap((r) =>
    Object.values(local.head.customers)
      .filter((c) => c.ring === r && (!flags.ring || r === flags.ring))
      .sort((a, b) => a.id.localeCompare(b.id)),
  );
  const driver = createDriver(true);
  try {
    const limit = pLimit(50);
    const rows = await Promise.all(customers.map((c) => limit(async () => hostStatus(c, await driver.observe(c)))));
    if (flags.format === 'json') process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    else {
      process.stdout.write(
        textTable(
          ['RING', 'CUSTOMER', 'DESIRED', '.ENV', 'RUNNING', 'STATE', 'DETAIL'],
          rows.map((r) => [r.ring, r.customerId, r.desired, r.envTag ?? '-', r.runningTag ?? '-', r.state, r.detail]),
        ) + '\n',
      );
      const counts = new Map<string, number>();
      for (const r of rows) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
      process.stdout.write(`\n${rows.length} host(s): ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}\n`);
    }
    return rows.every((r) => r.state === 'in-sync' || r.state === 'held') ? 0 : 3;
  } finally {
    await driver.close();
  }
}
