// npm run bench -- [--hosts 50] [--concurrency 10] [--plan-hosts 200]
//
// Brings up N testbed hosts and compares a full fleetkeeper apply with a plain
// ssh shell script doing the same steps with the same parallelism (xargs -P).
// Prints wall times side by side and their ratio, fleetkeeper's peak RSS, SSH
// connections opened per host, and the live plan time (also for
// --plan-hosts M hosts, on a second testbed). Figures only: nothing here
// asserts a time.
//
// Order: fleetkeeper upgrades FROM → MID first, then the script MID → TO, so
// both pull an image tag the engine has not seen and start from a host that
// has one previous upgrade behind it.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startTestbed, TAGS } from '../test/testbed/index.js';
import { backupDirFor, writeTestbedFleet } from './testbed-fleet.js';

const run = promisify(execFile);

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '10' },
    'plan-hosts': { type: 'string' },
    'skip-script': { type: 'boolean' },
  },
});
const N = Number(values.hosts);
const C = Number(values.concurrency);
const PLAN_N = values['plan-hosts'] ? Number(values['plan-hosts']) : undefined;
const FROM = TAGS.good[0]!;
const MID = TAGS.good[1]!;
const TO = TAGS.good[2]!;
const HERE = new URL('.', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const HEALTH = { attempts: 2, intervalSeconds: 1, timeoutSeconds: 5 };

interface ChildFigures {
  hosts: number;
  planMs: number;
  applyMs: number;
  outcomes: Record<string, number>;
  connections: Record<string, number>;
  maxRssMb: number;
}

function log(msg: string) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function child(fleetDir: string, stateDir: string, keyPath: string, planOnly: boolean): Promise<ChildFigures> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', join(HERE, 'apply-child.ts'), '--fleet', fleetDir, '--state', stateDir];
    if (planOnly) args.push('--plan-only');
    const p = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, FLEETKEEPER_SSH_KEY_FILE: keyPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`apply child exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildFigures);
    });
  });
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'fk-bench-'));
  log(`starting a testbed with ${N} hosts at ${FROM}`);
  const t0 = Date.now();
  const tb = await startTestbed({ name: `bench${process.pid % 10000}`, hosts: N, initialTag: FROM });
  log(`testbed up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const figures: Record<string, string> = {};
  try {
    const fleetDir = join(work, 'fleet');
    const customers = tb.hosts.map((h, i) => ({ id: `bench-${String(i).padStart(3, '0')}`, ring: 'all', tag: MID, host: h }));
    await writeTestbedFleet(fleetDir, {
      rings: [{ name: 'all', concurrency: C, failureBudget: N }],
      customers,
      repository: tb.imageRepo,
      health: HEALTH,
    });

    log(`fleetkeeper: live plan + apply ${FROM} → ${MID}, concurrency ${C}`);
    const tf = Date.now();
    const fk = await child(fleetDir, join(work, 'state'), tb.privateKeyPath, false);
    const fkWall = Date.now() - tf;
    const upgraded = (await Promise.all(customers.map((c) => tb.envTag(c.host.id)))).filter((t) => t === MID).length;
    log(`fleetkeeper: ${JSON.stringify(fk.outcomes)}; ${upgraded}/${N} hosts at ${MID}`);
    const conns = Object.values(fk.connections);
    figures['hosts'] = String(N);
    figures['concurrency'] = String(C);
    figures['fleetkeeper live plan'] = `${(fk.planMs / 1000).toFixed(2)} s (${N} hosts)`;
    figures['fleetkeeper apply'] = `${(fk.applyMs / 1000).toFixed(1)} s (process wall incl. startup and plan: ${(fkWall / 1000).toFixed(1)} s)`;
    figures['fleetkeeper outcomes'] = JSON.stringify(fk.outcomes);
    figures['fleetkeeper peak RSS'] = `${fk.maxRssMb} MB (target < 150 MB; includes the tsx loader)`;
    figures['SSH connections per host'] = `min ${Math.min(...conns)}, max ${Math.max(...conns)} over ${conns.length} hosts (plan + apply; target 1)`;

    if (!values['skip-script']) {
      const kh = tb.knownHostsPath;
      const lines = tb.hosts.map((h) =>
        [h.address, h.port, h.user, tb.privateKeyPath, kh, h.composeDir, h.project, h.site, TO, h.healthUrl, `${backupDirFor(h)}-plain`, HEALTH.attempts, HEALTH.intervalSeconds].join(' '),
      );
      await writeFile(join(work, 'hosts.txt'), lines.join('\n') + '\n');
      log(`plain script: ${MID} → ${TO} with xargs -P ${C}`);
      const ts = Date.now();
      const res = await run('sh', ['-c', `xargs -P ${C} -L 1 ${join(HERE, 'plain-upgrade.sh')} < ${join(work, 'hosts.txt')}`], {
        maxBuffer: 64 * 1024 * 1024,
      }).catch((e: { stdout?: string; stderr?: string; code?: number }) => {
        log(`plain script failed (exit ${e.code}): ${(e.stderr ?? '').slice(-2000)}`);
        return { stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      });
      const scriptMs = Date.now() - ts;
      const ok = res.stdout.split('\n').filter((l) => l.startsWith('ok ')).length;
      const atTo = (await Promise.all(customers.map((c) => tb.envTag(c.host.id)))).filter((t) => t === TO).length;
      figures['plain ssh script'] = `${(scriptMs / 1000).toFixed(1)} s (${ok}/${N} ok, ${atTo}/${N} at ${TO})`;
      figures['ratio apply / script'] = `${(fk.applyMs / scriptMs).toFixed(3)} (target ≤ 1.15)`;
    }
  } finally {
    log('stopping the testbed');
    await tb.stop();
  }

  if (PLAN_N) {
    log(`starting a testbed with ${PLAN_N} hosts for the live plan`);
    const tb2 = await startTestbed({ name: `benchp${process.pid % 10000}`, hosts: PLAN_N, initialTag: FROM });
    try {
      const dir = join(work, 'fleet-plan');
      await writeTestbedFleet(dir, {
        rings: [{ name: 'all', concurrency: C, failureBudget: PLAN_N }],
        customers: tb2.hosts.map((h, i) => ({ id: `plan-${String(i).padStart(3, '0')}`, ring: 'all', tag: MID, host: h })),
        repository: tb2.imageRepo,
        health: HEALTH,
      });
      const p = await child(dir, join(work, 'state-plan'), tb2.privateKeyPath, true);
      figures[`live plan, ${PLAN_N} hosts`] = `${(p.planMs / 1000).toFixed(2)} s (target < 5 s), peak RSS ${p.maxRssMb} MB`;
    } finally {
      await tb2.stop();
    }
  }
  await rm(work, { recursive: true, force: true });

  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  process.stdout.write('\nfleetkeeper benchmark\n');
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
}

await main();
