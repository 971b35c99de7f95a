// The rollout engine on real hosts: a 3-ring fleet of 10 testbed hosts
// written as fleet files and read by the real loader, planned and applied
// over real SSH against real Compose projects.
//
//   canary: h001 h002          (concurrency 1, budget 0)
//   early:  h003 h004 h005     (concurrency 2, budget 1)
//   broad:  h006 … h010        (concurrency 2, budget 1)
//
// The tests run in order and build on each other, like a week of rollouts.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestbedFleet } from '../../bench/testbed-fleet.js';
import { diffFleets, loadFleet, LocalDirSource, formatError } from '../../src/fleet/index.js';
import type { Fleet } from '../../src/fleet/types.js';
import { createOfflineDriver, createSshDriver } from '../../src/host/driver-ssh.js';
import type { HostDriver } from '../../src/host/types.js';
import { applyRollout } from '../../src/rollout/apply.js';
import type { RolloutEvent } from '../../src/rollout/events.js';
import { planRollout } from '../../src/rollout/plan.js';
import { FileStateStore } from '../../src/rollout/state.js';
import { loadSshCredentials } from '../../src/ssh/credentials.js';
import { startTestbed, TAGS, versionOfTag, type Testbed } from '../testbed/index.js';

const FROM = TAGS.good[0]!; // v15.38.0
const TO = TAGS.good[2]!; // v15.40.1
const ROOT = new URL('../..', import.meta.url).pathname;
const RINGS = [
  { name: 'canary', concurrency: 1, failureBudget: 0 },
  { name: 'early', concurrency: 2, failureBudget: 1 },
  { name: 'broad', concurrency: 2, failureBudget: 1 },
];
const ringOf = (i: number) => (i < 2 ? 'canary' : i < 5 ? 'early' : 'broad');

let tb: Testbed;
let work: string;
let driver: HostDriver;
let stateDir: string;
const tags: Record<string, string> = {};

async function writeFleet(dir: string): Promise<Fleet> {
  await writeTestbedFleet(dir, {
    rings: RINGS,
    customers: tb.hosts.map((h, i) => ({ id: h.id, ring: ringOf(i), tag: tags[h.id]!, host: h })),
    repository: tb.imageRepo,
    health: { attempts: 2, intervalSeconds: 1, timeoutSeconds: 5 },
  });
  const res = await loadFleet(new LocalDirSource(dir));
  if (!res.ok) throw new Error(res.errors.map(formatError).join('\n'));
  return res.fleet;
}

const envTags = async () => Object.fromEntries(await Promise.all(tb.hosts.map(async (h) => [h.id, await tb.envTag(h.id)] as const)));
const ids = (from: number, to: number) => tb.hosts.slice(from, to).map((h) => h.id);

beforeAll(async () => {
  tb = await startTestbed({ name: `ro${process.pid % 100000}`, hosts: 10, initialTag: FROM });
  work = await mkdtemp(join(tmpdir(), 'fk-rollout-e2e-'));
  stateDir = join(work, 'state');
  for (const h of tb.hosts) tags[h.id] = FROM;
  driver = createSshDriver({ credentials: loadSshCredentials({ FLEETKEEPER_SSH_KEY_FILE: tb.privateKeyPath }) });
}, 600_000);

afterAll(async () => {
  await driver?.close();
  await tb?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 300_000);

describe('rollout on the testbed', () => {
  it('plan (live and offline) shows exactly the canary change, and changes nothing', async () => {
    const base = await writeFleet(join(work, 'base'));
    for (const id of ids(0, 2)) tags[id] = TO;
    const head = await writeFleet(join(work, 'head'));
    const diff = diffFleets(base, head);
    const live = await planRollout({ base, head, diff, driver, mode: 'live', runId: 'e2e-plan-live' });
    expect(live.rings.map((r) => [r.name, r.hosts.map((h) => h.customerId)])).toEqual([['canary', ids(0, 2)]]);
    for (const h of live.rings[0]!.hosts) {
      expect(h).toMatchObject({ action: 'change', tag: { from: FROM, to: TO }, observedTag: FROM, reasons: ['tag'] });
      expect(h.drift).toBeUndefined();
      expect(h.findings.filter((f) => f.level === 'error')).toEqual([]);
      expect(h.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['preflight', 'backup', 'set-tag', 'recreate', 'migrate', 'health']));
      expect(h.fileDiff).toMatch(new RegExp(`\\+\\w+=${TO.replace(/\./g, '\\.')}`));
    }
    // Offline: same hosts, same steps, no connection.
    const offline = await planRollout({ base, head, diff, driver: createOfflineDriver(), mode: 'offline', runId: 'e2e-plan-off' });
    expect(offline.rings.map((r) => [r.name, r.hosts.map((h) => h.customerId)])).toEqual([['canary', ids(0, 2)]]);
    expect(offline.rings[0]!.hosts[0]!.steps.map((s) => s.step)).toEqual(live.rings[0]!.hosts[0]!.steps.map((s) => s.step));
    // A plan is a dry run: every host still runs what it ran.
    expect(Object.values(await envTags())).toEqual(Array(10).fill(FROM));
  }, 180_000);

  it('apply of the canary ring updates exactly its hosts', async () => {
    const fleet = await writeFleet(join(work, 'head'));
    const state = await FileStateStore.open(stateDir);
    const res = await applyRollout({ fleet, driver, state, runId: 'e2e-canary', ring: 'canary', bake: false });
    expect(res.status).toBe('succeeded');
    expect(res.rings[0]!.hosts.map((h) => [h.customerId, h.outcome])).toEqual(ids(0, 2).map((id) => [id, 'upgraded']));
    const now = await envTags();
    for (const [i, h] of tb.hosts.entries()) expect([h.id, now[h.id]]).toEqual([h.id, i < 2 ? TO : FROM]);
    expect(await tb.dbVersion(tb.hosts[0]!.id)).toBe(versionOfTag(TO));
    expect(await state.getRingCompletion('canary', TO)).toBeTruthy();
    // One SSH connection per host so far (plan and apply shared it).
    for (const id of ids(0, 2)) expect(driver.connectionsOpened()[id]).toBe(1);
  }, 300_000);

  it('early: one bad host within budget is rolled back and the rest finish', async () => {
    const [bad, ...good] = ids(2, 5);
    tags[bad!] = TAGS.unhealthy;
    for (const id of good) tags[id] = TO;
    const fleet = await writeFleet(join(work, 'head'));
    const state = await FileStateStore.open(stateDir);
    const res = await applyRollout({ fleet, driver, state, runId: 'e2e-early', ring: 'early', bake: false });
    const byId = Object.fromEntries(res.rings[0]!.hosts.map((h) => [h.customerId, h]));
    expect(byId[bad!]!.outcome).toBe('rolled-back');
    for (const id of good) expect(byId[id]!.outcome).toBe('upgraded');
    expect(res.rings[0]!.status).toBe('failed'); // not every host is at its desired tag
    expect(res.failures).toBe(1);
    const now = await envTags();
    expect(now[bad!]).toBe(FROM);
    expect((await tb.ping(bad!)).body).toContain('pong');
    for (const id of good) expect(now[id]).toBe(TO);
    expect(await state.isBadTag(TAGS.unhealthy)).toMatchObject({ tag: TAGS.unhealthy });
    tags[bad!] = FROM; // the operator reverts the bad host's file
  }, 400_000);

  it('broad: a bad tag exceeding the budget stops the ring with the rest untouched', async () => {
    const broad = ids(5, 10);
    for (const id of broad) tags[id] = TAGS.unhealthy;
    const fleet = await writeFleet(join(work, 'head'));
    const state = await FileStateStore.open(stateDir);
    const events: RolloutEvent[] = [];
    const res = await applyRollout({ fleet, driver, state, runId: 'e2e-broad', ring: 'broad', bake: false, sink: (e) => events.push(e) });
    const ring = res.rings[0]!;
    expect(ring.status).toBe('stopped');
    expect(res.reason).toMatch(/failure budget of ring broad exceeded/);
    expect(events.some((e) => e.type === 'budget-exceeded')).toBe(true);
    // With concurrency 2 and budget 1: two or three hosts were tried (the third
    // only if it started in a slot freed by the first failure), all rolled back.
    expect(ring.hosts.length).toBeGreaterThanOrEqual(2);
    expect(ring.hosts.length).toBeLessThanOrEqual(3);
    for (const h of ring.hosts) expect(h.outcome).toBe('rolled-back');
    expect(ring.skipped.length).toBe(5 - ring.hosts.length);
    const now = await envTags();
    for (const id of broad) expect(now[id]).toBe(FROM);
    // Skipped hosts were not touched at all: nothing was ever migrated there.
    for (const s of ring.skipped) {
      expect((await tb.dbState(s.customerId)).history.filter((l) => /migrate/.test(l))).toEqual([]);
      expect(s.reason).toMatch(/not started: failure budget/);
    }
  }, 400_000);

  it('a rollout killed mid-run converges on rerun, without redoing finished hosts', async () => {
    const broad = ids(5, 10);
    for (const id of broad) tags[id] = TO;
    const dir = join(work, 'head');
    const fleet = await writeFleet(dir);
    const killState = join(work, 'state-kill');

    // `fleetkeeper apply` in its own process, SIGKILLed once a host has set its
    // tag (mid-change: containers not yet recreated or migrate not yet done).
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'apply', dir, '--yes', '--ring', 'broad', '--no-bake', '--state-dir', killState],
      { cwd: ROOT, env: { ...process.env, FLEETKEEPER_SSH_KEY_FILE: tb.privateKeyPath }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let killedAfter: string | undefined;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /\] (h\d+): set-tag ok/.exec(out);
        if (m && !killedAfter) {
          killedAfter = m[1];
          child.kill('SIGKILL');
        }
      });
      child.on('close', () => resolve());
    });
    expect(killedAfter, `child output:\n${out}`).toBeDefined();

    const state = await FileStateStore.open(killState);
    const res = await applyRollout({ fleet, driver, state, runId: 'e2e-rerun', ring: 'broad', bake: false });
    const summary = res.rings[0]!.hosts
      .map((h) => `${h.customerId} ${h.outcome}: ${h.message}\n${h.steps.map((s) => `  ${s.step} ${s.status}: ${s.message.slice(0, 200)}`).join('\n')}`)
      .join('\n');
    expect(res.status, `${res.reason}\n${summary}\nkilled run output:\n${out}`).toBe('succeeded');
    const now = await envTags();
    for (const id of broad) expect(now[id]).toBe(TO);
    for (const id of broad) expect((await tb.ping(id)).body).toContain('pong');
    const ring = res.rings[0]!;
    // The host that was killed mid-change was re-observed before anything else.
    const killed = ring.hosts.find((h) => h.customerId === killedAfter);
    expect(killed?.steps[0]).toMatchObject({ step: 'observe', message: expect.stringMatching(/re-observed after interrupted run/) });
    // Hosts the killed run finished are skipped as converged; nothing migrated twice.
    for (const s of ring.skipped) expect(s.converged).toBe(true);
    for (const id of broad) {
      const migrations = (await tb.dbState(id)).history.filter((l) => l.includes('migrate-start') && l.includes(`to=${versionOfTag(TO)}`));
      expect([id, migrations.length]).toEqual([id, 1]);
    }
  }, 600_000);

  it('fleetkeeper status and plan --live (CLI) agree that the fleet has converged', async () => {
    const dir = join(work, 'head');
    const env = { ...process.env, FLEETKEEPER_SSH_KEY_FILE: tb.privateKeyPath };
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, env });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const status = await cli(['status', dir, '--format', 'json']);
    expect(status.code, status.stderr).toBe(0);
    const rows = JSON.parse(status.stdout) as Array<{ customerId: string; state: string; envTag: string; desired: string }>;
    expect(rows.map((r) => [r.customerId, r.state, r.envTag])).toEqual(tb.hosts.map((h) => [h.id, 'in-sync', tags[h.id]]));

    const plan = await cli(['plan', dir, '--live', '--no-base', '--format', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout) as { mode: string; summary: { change: number; unchanged: number } };
    expect(p).toMatchObject({ mode: 'live', summary: { change: 0, unchanged: 10 } });
  }, 180_000);
});
