// A run that crashed half-way (bot gone while migrate ran, lock then cleared
// by a person as the refusal message says): the next run reads the host
// journal, re-observes, and finishes the change (same target) or undoes it
// (different target) — never a second migrate, never a blind retry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { startTestbed, TAGS, type Testbed, type TestbedHost } from '../testbed/index.js';
import type { HostDriver, HostResult } from '../../src/host/types.js';
import { customerFor, driverFor, logResult, migrateStarts, runId } from './host-support.js';

let tb: Testbed;
let driver: HostDriver;

beforeAll(async () => {
  tb = await startTestbed({ name: `fk-host-resume-${process.pid % 100000}`, hosts: 2 });
  driver = driverFor(tb);
}, 900_000);
afterAll(async () => {
  await driver?.close();
  await tb?.stop();
}, 300_000);

/** Start an upgrade to the slow-migrate tag and lose the host while migrate runs: the bot's run "crashes". */
async function crashDuringMigrate(h: TestbedHost): Promise<{ id: string; result: HostResult }> {
  const id = runId('crash');
  const c = customerFor(tb, h, { image: { repository: tb.imageRepo, tag: TAGS.slowMigrate } });
  const running = driver.converge(c, { runId: id, mode: 'apply' });
  const marker = `${h.composeDir}/.fleetkeeper/runs/${id}/migrate-${h.site}.started`;
  // (generous: on a loaded machine `up -d` alone can take a minute)
  for (let i = 0; i < 4000 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
  const started = existsSync(marker);
  await tb.stopSshd(h.id);
  const result = await running;
  await tb.startSshd(h.id);
  logResult(`crash ${h.id}`, result);
  if (!started) throw new Error(`${h.id}: migrate never started; the run ended ${result.outcome}: ${result.message}`);
  // The person on call follows the refusal message: kill the holder, remove lock.json.
  const lockJson = `${h.composeDir}/.fleetkeeper/lock.json`;
  if (!existsSync(lockJson)) throw new Error(`${h.id}: no lock left behind; the run ended ${result.outcome}: ${result.message}`);
  const meta = JSON.parse(readFileSync(lockJson, 'utf8')) as { runId: string; pid: number };
  expect(meta.runId).toBe(id);
  try {
    process.kill(meta.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  rmSync(lockJson);
  return { id, result };
}

describe('resuming an interrupted change from the host journal', () => {
  it('same target: finished without a new backup or a second migrate; other target: undone with the database restored', async () => {
    const [a, b] = [tb.hosts[0]!, tb.hosts[1]!];
    const [ca, cb] = await Promise.all([crashDuringMigrate(a), crashDuringMigrate(b)]);
    expect(ca.result.outcome).toBe('unknown');
    expect(cb.result.outcome).toBe('unknown');
    await new Promise((r) => setTimeout(r, 3100)); // past the driver's fail-fast window

    const [ra, rb] = await Promise.all([
      driver.converge(customerFor(tb, a, { image: { repository: tb.imageRepo, tag: TAGS.slowMigrate } }), { runId: runId('next'), mode: 'apply' }),
      driver.converge(customerFor(tb, b, { image: { repository: tb.imageRepo, tag: 'v15.40.1' } }), { runId: runId('next'), mode: 'apply' }),
    ]);
    logResult('finish interrupted (same target)', ra);
    logResult('undo interrupted (other target)', rb);

    expect(ra.outcome, ra.message).toBe('upgraded');
    expect(ra.steps.some((s) => s.step === 'backup')).toBe(false);
    expect(ra.backup?.[0]?.path).toContain(`/${ca.id}/`); // the interrupted run's verified backup
    expect(ra.steps.find((s) => s.step === 'migrate')?.output).toMatch(/already started .* not starting it again/);
    expect(await migrateStarts(tb, a.id, 'v15.41.0')).toBe(1);
    expect(await tb.dbVersion(a.id)).toBe('v15.41.0');
    expect((await tb.ping(a.id)).status).toBe(200);

    expect(rb.outcome, rb.message).toBe('rolled-back');
    expect(rb.message).toMatch(new RegExp(`interrupted run ${cb.id} rolled back to ${TAGS.initial}.*rerun to upgrade to v15.40.1`));
    expect(rb.steps.find((s) => s.step === 'restore')?.status).toBe('ok');
    expect(await tb.envTag(b.id)).toBe(TAGS.initial);
    expect(await tb.dbVersion(b.id)).toBe(TAGS.initial);
    expect((await tb.ping(b.id)).status).toBe(200);

    // and the rerun then upgrades normally
    const again = await driver.converge(customerFor(tb, b, { image: { repository: tb.imageRepo, tag: 'v15.40.1' } }), { runId: runId('again'), mode: 'apply' });
    logResult('rerun after undo', again);
    expect(again.outcome, again.message).toBe('upgraded');
    expect(await tb.dbVersion(b.id)).toBe('v15.40.1');
  }, 1_200_000);
});
