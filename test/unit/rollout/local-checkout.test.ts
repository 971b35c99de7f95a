// plan from a local checkout: default base choice, fleet at a git ref read
// through GitRefSource and the real loader, diffed and planned offline.
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOfflineDriver } from '../../../src/host/driver-ssh.js';
import { renderPlanText } from '../../../src/report/plan.js';
import { chooseBase, CliError, openLocalFleet } from '../../../src/rollout/local.js';
import { planRollout } from '../../../src/rollout/plan.js';

let repo: string;
const g = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
const EXAMPLE = new URL('../../../fleet', import.meta.url).pathname;
const FILE = 'customers/baeckerei-schmidt.yml';

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'fk-local-'));
  g('init', '-q', '-b', 'main');
  g('config', 'user.email', 't@example.invalid');
  g('config', 'user.name', 't');
  await cp(EXAMPLE, join(repo, 'fleet'), { recursive: true });
  g('add', '-A');
  g('commit', '-q', '-m', 'fleet');
});
afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe('local checkout', () => {
  it('base: HEAD with uncommitted edits, HEAD~1 when clean, none on the first commit', async () => {
    const dir = join(repo, 'fleet');
    expect((await chooseBase(dir, undefined)).ref).toBeUndefined(); // first commit
    const text = await readFile(join(dir, FILE), 'utf8');
    const from = /tag: (\S+)/.exec(text)![1]!;
    await writeFile(join(dir, FILE), text.replace(/tag: \S+/, 'tag: v15.99.0'));
    expect(await chooseBase(dir, undefined)).toMatchObject({ ref: 'HEAD' });

    const local = await openLocalFleet(dir, await chooseBase(dir, undefined));
    expect(local.dirty).toBe(true);
    expect(local.commit).toBeUndefined();
    expect(local.diff!.changes.map((c) => [c.id, c.tag])).toEqual([['baeckerei-schmidt', { from, to: 'v15.99.0' }]]);
    const plan = await planRollout({ ...local, driver: createOfflineDriver(), mode: 'offline', runId: 'p1', baseLabel: local.baseLabel });
    expect(plan.rings.flatMap((r) => r.hosts.map((h) => [h.ring, h.customerId, h.action]))).toEqual([['early', 'baeckerei-schmidt', 'change']]);
    expect(renderPlanText(plan)).toContain(`${from} → v15.99.0`);

    g('commit', '-qam', 'bump');
    expect(await chooseBase(dir, undefined)).toMatchObject({ ref: 'HEAD~1' });
    const clean = await openLocalFleet(dir, await chooseBase(dir, undefined));
    expect(clean.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(clean.diff!.changes.map((c) => c.id)).toEqual(['baeckerei-schmidt']);
    expect(await chooseBase(dir, false)).toEqual({ why: expect.stringMatching(/no-base/) });
  });

  it('a broken fleet is a CliError listing file:line', async () => {
    const dir = join(repo, 'fleet');
    const text = await readFile(join(dir, FILE), 'utf8');
    await writeFile(join(dir, FILE), text.replace(/tag: \S+/, 'tag: "v1;rm -rf /"'));
    const err = await openLocalFleet(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(/customers\/baeckerei-schmidt\.yml:\d+:\d+/);
    await writeFile(join(dir, FILE), text);
  });
});
