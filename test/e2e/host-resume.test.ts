// A run that crashed half-way (bot gone while migrate ran, lock then cleared
// by a person as the refusal message says): the next run reads the host
// journal, re-observes, and finishes the change (same target) or undoes it
// (different target) — never a second migrate, never a blind retry.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { TAGS, type TestbedHost } from '../testbed/index.js';
import type { HostResult } from '../../src/host/types.js';
import { customerFor, logResult, migrateStarts, runId, useHostTestbed } from './host-support.js';

const bed = useHostTestbed({ name: 'fk-host-resume', hosts: 2 });

/** Start an upgrade to the slow-migrate tag and lose the host while migrate runs: the bot's run "crashes". */
async function crashDuringMigrate(h: TestbedHost): Promise<{ id: string; result: HostResult }> {
  const id = runId('crash');
  const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: TAGS.slowMigrate } });
  const running = bed.driver.converge(c, { runId: id, mode: 'apply' });
  const marker = `${h.composeDir}/.fleetkeeper/runs/${id}/migrate-${h.site}.started`;
  // (generous: on a loaded machine `up -d` alone can take a minute)
  for (let i = 0; i < 4000 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
  const started = existsSync(marker);
  await bed.tb.stopSshd(h.id);
  const result = await running;
  await bed.tb.startSshd(h.id);
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
    const [a, b] = [bed.tb.hosts[0]!, bed.tb.hosts[1]!];
    const [ca, cb] = await Promise.all([crashDuringMigrate(a), crashDuringMigrate(b)]);
    expect(ca.result.outcome).toBe('unknown');
    expect(cb.result.outcome).toBe('unknown');
    await new Promise((r) => setTimeout(r, 3100)); // past the bed.driver's fail-fast window

    const [ra, rb] = await Promise.all([
      bed.driver.converge(customerFor(bed.tb, a, { image: { repository: bed.tb.imageRepo, tag: TAGS.slowMigrate } }), { runId: runId('next'), mode: 'apply' }),
      bed.driver.converge(customerFor(bed.tb, b, { image: { repository: bed.tb.imageRepo, tag: 'v15.40.1' } }), { runId: runId('next'), mode: 'apply' }),
    ]);
    logResult('finish interrupted (same target)', ra);
    logResult('undo interrupted (other target)', rb);

    expect(ra.outcome, ra.message).toBe('upgraded');
    expect(ra.steps.some((s) => s.step === 'backup')).toBe(false);
    expect(ra.backup?.[0]?.path).toContain(`/${ca.id}/`); // the interrupted run's verified backup
    expect(ra.steps.find((s) => s.step === 'migrate')?.output).toMatch(/already started .* not starting it again/);
    expect(await migrateStarts(bed.tb, a.id, 'v15.41.0')).toBe(1);
    expect(await bed.tb.dbVersion(a.id)).toBe('v15.41.0');
    expect((await bed.tb.ping(a.id)).status).toBe(200);

    expect(rb.outcome, rb.message).toBe('rolled-back');
    expect(rb.message).toMatch(new RegExp(`interrupted run ${cb.id} rolled back to ${TAGS.initial}.*rerun to upgrade to v15.40.1`));
    expect(rb.steps.find((s) => s.step === 'restore')?.status).toBe('ok');
    expect(await bed.tb.envTag(b.id)).toBe(TAGS.initial);
    expect(await bed.tb.dbVersion(b.id)).toBe(TAGS.initial);
    expect((await bed.tb.ping(b.id)).status).toBe(200);

    // and the rerun then upgrades normally
    const again = await bed.driver.converge(customerFor(bed.tb, b, { image: { repository: bed.tb.imageRepo, tag: 'v15.40.1' } }), { runId: runId('again'), mode: 'apply' });
    logResult('rerun after undo', again);
    expect(again.outcome, again.message).toBe('upgraded');
    expect(await bed.tb.dbVersion(b.id)).toBe('v15.40.1');
  }, 1_200_000);
});
