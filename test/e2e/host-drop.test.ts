// A connection cut while migrate runs: the step is reported unknown, the host
// is re-observed, and migrate is never started twice for one change.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { TAGS, type TestbedHost } from '../testbed/index.js';
import { customerFor, logResult, migrateStarts, runId, useHostTestbed } from './host-support.js';

const bed = useHostTestbed({ name: 'fk-host-drop', hosts: 2 });

/** Resolves once migrate of this run has been started on the host (plus a little). */
async function migrateRunning(h: TestbedHost, id: string): Promise<void> {
  const marker = `${h.composeDir}/.fleetkeeper/runs/${id}/migrate-${h.site}.started`;
  for (let i = 0; i < 600 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(marker)) throw new Error('migrate never started');
  await new Promise((r) => setTimeout(r, 2000));
}

describe('connection cut mid-step', () => {
  it('sessions killed during migrate: step unknown, host re-observed, migrate finished once, upgraded', async () => {
    const h = bed.tb.hosts[0]!;
    const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: TAGS.slowMigrate } });
    const id = runId('drop');
    const running = bed.driver.converge(c, { runId: id, mode: 'apply' });
    await migrateRunning(h, id);
    await bed.tb.killSshSessions(h.id);
    const r = await running;
    logResult('killed sessions', r);
    const steps = r.steps.map((s) => `${s.step}:${s.status}`);
    const unknownAt = steps.indexOf('migrate:unknown');
    expect(unknownAt, steps.join(' ')).toBeGreaterThan(0);
    expect(steps[unknownAt + 1]).toBe('observe:ok'); // re-observed before deciding anything
    expect(steps[unknownAt + 2]).toBe('migrate:ok'); // waited for the same migrate, did not start another
    expect(r.steps[unknownAt + 2]!.output).toMatch(/already started .* not starting it again/);
    expect(r.outcome, r.message).toBe('upgraded');
    expect(await migrateStarts(bed.tb, h.id, 'v15.41.0')).toBe(1);
    expect(await bed.tb.dbVersion(h.id)).toBe('v15.41.0');
    expect(await bed.tb.runningTag(h.id)).toBe(TAGS.slowMigrate);
    expect(bed.driver.connectionsOpened()[h.id]).toBe(2); // one reconnect, after the drop
  }, 500_000);

  it('host gone during migrate: outcome unknown; a rerun of the same run finishes it without a second migrate', async () => {
    const h = bed.tb.hosts[1]!;
    const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: TAGS.slowMigrate } });
    const id = runId('gone');
    const running = bed.driver.converge(c, { runId: id, mode: 'apply' });
    await migrateRunning(h, id);
    await bed.tb.stopSshd(h.id);
    let r;
    try {
      r = await running;
    } finally {
      await bed.tb.startSshd(h.id);
    }
    logResult('host gone', r);
    expect(r.outcome).toBe('unknown');
    expect(r.message).toMatch(/state is unknown.*phase migrating.*Rerun/);
    expect(r.steps.find((s) => s.step === 'migrate')?.status).toBe('unknown');

    // Another run is refused: the interrupted run still holds the host lock.
    await new Promise((res) => setTimeout(res, 3100));
    const other = await bed.driver.converge(c, { runId: runId('other'), mode: 'apply' });
    logResult('other run meanwhile', other);
    expect(other.outcome).toBe('refused');
    expect(other.message).toContain(`locked by run ${id}`);

    // The same run, retried: re-observes, waits for the migrate already running, finishes.
    const again = await bed.driver.converge(c, { runId: id, mode: 'apply' });
    logResult('same run resumed', again);
    expect(again.outcome, again.message).toBe('upgraded');
    expect(again.steps.some((s) => s.step === 'backup')).toBe(false); // the journal's verified backup is reused
    expect(await migrateStarts(bed.tb, h.id, 'v15.41.0')).toBe(1);
    expect(await bed.tb.dbVersion(h.id)).toBe('v15.41.0');
    expect((await bed.tb.ping(h.id)).status).toBe(200);
  }, 600_000);
});
