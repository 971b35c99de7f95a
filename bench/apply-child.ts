// Runs in its own process so its peak RSS is fleetkeeper's alone: a live plan
// and (unless --plan-only) a full apply of the fleet in --fleet, exactly as
// `fleetkeeper apply --yes --no-bake` does it, then prints one JSON line of
// figures on stdout.
//
//   tsx bench/apply-child.ts --fleet DIR --state DIR [--plan-only]
// SSH key from FLEETKEEPER_SSH_KEY_FILE.
import { parseArgs } from 'node:util';
import { LocalDirSource } from '../src/fleet/index.js';
import { createSshDriver } from '../src/host/driver-ssh.js';
import { applyRollout } from '../src/rollout/apply.js';
import { loadFleetOrExplain, newRunId } from '../src/rollout/local.js';
import { planRollout } from '../src/rollout/plan.js';
import { FileStateStore } from '../src/rollout/state.js';
import { loadSshCredentials } from '../src/ssh/credentials.js';

const { values } = parseArgs({
  options: { fleet: { type: 'string' }, state: { type: 'string' }, 'plan-only': { type: 'boolean' } },
});
if (!values.fleet || !values.state) throw new Error('usage: apply-child.ts --fleet DIR --state DIR [--plan-only]');

const { fleet } = await loadFleetOrExplain(new LocalDirSource(values.fleet));
const state = await FileStateStore.open(values.state);
const driver = createSshDriver({ credentials: loadSshCredentials() });
const runId = newRunId('bench');

const t0 = performance.now();
const plan = await planRollout({ head: fleet, driver, mode: 'live', runId, state, concurrency: 64 });
const planMs = performance.now() - t0;
const todo = plan.rings.flatMap((r) => r.hosts.filter((h) => h.action !== 'unchanged').map((h) => h.customerId));

let applyMs = 0;
const outcomes: Record<string, number> = {};
if (!values['plan-only']) {
  const t1 = performance.now();
  const res = await applyRollout({ fleet, driver, state, runId, only: todo, bake: false });
  applyMs = performance.now() - t1;
  for (const r of res.rings) {
    for (const h of r.hosts) outcomes[h.outcome] = (outcomes[h.outcome] ?? 0) + 1;
    for (const s of r.skipped) outcomes[`skipped: ${s.reason}`] = (outcomes[`skipped: ${s.reason}`] ?? 0) + 1;
  }
}
const connections = driver.connectionsOpened();
await driver.close();

process.stdout.write(
  JSON.stringify({
    hosts: Object.keys(fleet.customers).length,
    planMs: Math.round(planMs),
    planSummary: plan.summary,
    applyMs: Math.round(applyMs),
    outcomes,
    connections,
    // maxRSS is in kilobytes.
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  }) + '\n',
);
