// Failures after the change started roll back: previous .env, containers on
// the old image, database restored from this run's verified backup.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { TAGS } from '../testbed/index.js';
import { customerFor, logResult, runId, useHostTestbed } from './host-support.js';

const bed = useHostTestbed({ name: 'fk-host-rollback', hosts: 2 });

describe('rollback', () => {
  it('unhealthy tag → rolled back, database restored, healthy on the old tag', async () => {
    const h = bed.tb.hosts[0]!;
    const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: TAGS.unhealthy } });
    const r = await bed.driver.converge(c, { runId: runId('unhealthy'), mode: 'apply' });
    logResult('unhealthy', r);
    expect(r.outcome, r.message).toBe('rolled-back');
    const health = r.steps.filter((s) => s.step === 'health');
    expect(health.map((s) => s.status)).toEqual(['failed', 'ok']); // gate failed, then healthy after rollback
    expect(r.steps.find((s) => s.step === 'migrate')?.status).toBe('ok');
    expect(r.steps.find((s) => s.step === 'restore')?.status).toBe('ok'); // migrate had run: DB restored
    expect(r.steps.some((s) => s.step === 'prune')).toBe(false); // never prune after a failure
    expect(r.message).toMatch(new RegExp(`healthy on ${TAGS.initial}`));
    expect(await bed.tb.envTag(h.id)).toBe(TAGS.initial);
    expect(await bed.tb.runningTag(h.id)).toBe(TAGS.initial);
    expect(await bed.tb.dbVersion(h.id)).toBe(TAGS.initial);
    expect((await bed.tb.ping(h.id)).body).toBe('{"message":"pong"}');
    const journal = JSON.parse(readFileSync(`${h.composeDir}/.fleetkeeper/journal.json`, 'utf8'));
    expect(journal.phase).toBe('rolled-back');
    expect(r.after).toMatchObject({ envTag: TAGS.initial, runningTag: TAGS.initial });
  }, 500_000);

  it('migrate failure → database restored (schema back), old tag healthy', async () => {
    const h = bed.tb.hosts[1]!;
    const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: TAGS.migrateFails } });
    const r = await bed.driver.converge(c, { runId: runId('migfail'), mode: 'apply' });
    logResult('migrate fails', r);
    expect(r.outcome, r.message).toBe('rolled-back');
    const mig = r.steps.find((s) => s.step === 'migrate')!;
    expect(mig.status).toBe('failed');
    expect(mig.output).toMatch(/Unknown column/); // the failing patch's traceback tail is in the report
    expect(r.steps.find((s) => s.step === 'restore')?.status).toBe('ok');
    const db = await bed.tb.dbState(h.id);
    expect(db.schemaVersion).toBe(TAGS.initial);
    expect(db.history.some((l) => l.includes('migrate-failed'))).toBe(true);
    expect(db.history.at(-1)).toMatch(new RegExp(`restore from=v15.41.0-partial to=${TAGS.initial}`));
    expect(await bed.tb.envTag(h.id)).toBe(TAGS.initial);
    expect(await bed.tb.runningTag(h.id)).toBe(TAGS.initial);
    expect((await bed.tb.ping(h.id)).status).toBe(200);
    expect(r.message).toMatch(/migrate of .* failed.*rolled back.*database of .* restored/);
  }, 500_000);
});
