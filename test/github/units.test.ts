// Plain functions of the GitHub layer: fitting Markdown into check-run
// limits, annotations from fleet errors, the per-repo queue, the check-run
// throttle.
import { describe, expect, it } from 'vitest';
import { batches, fleetErrorAnnotation, repoPath } from '../../src/github/annotations.js';
import { CheckRun, fitOutput } from '../../src/github/check-run.js';
import { KeyedQueue } from '../../src/github/keyed-queue.js';
import { fitMarkdown } from '../../src/github/markdown.js';
import type { GitHubClient } from '../../src/github/octokit.js';
import { renderResult } from '../../src/github/render.js';
import type { RolloutResult } from '../../src/rollout/types.js';

describe('fitMarkdown', () => {
  it('leaves short text alone', () => {
    expect(fitMarkdown('hello\nworld', 'note', 100)).toBe('hello\nworld');
  });
  it('cuts on a line, closes an open fence, adds the note, stays within the limit', () => {
    const text = 'head\n```diff\n' + Array.from({ length: 500 }, (_, i) => `+line ${i}`).join('\n') + '\n```\ntail';
    const out = fitMarkdown(text, 'See the CLI.', 1000);
    expect(out.length).toBeLessThanOrEqual(1000);
    expect(out).toContain('**Truncated:**');
    expect(out).toContain('See the CLI.');
    const fences = out.split('\n').filter((l) => l.startsWith('```'));
    expect(fences.length % 2).toBe(0);
  });
  it('never splits a surrogate pair', () => {
    const out = fitMarkdown('🚨'.repeat(1000), 'n', 501);
    expect(out.length).toBeLessThanOrEqual(501);
    expect(out).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
  it('fitOutput masks secrets before sending', () => {
    const o = fitOutput({ title: 't', summary: 'token ghp_abcdefghijklmnopqrstuvwxyz0123456789 and DB_PASSWORD=hunter2hunter2' });
    expect(o.summary).not.toContain('ghp_abc');
    expect(o.summary).not.toContain('hunter2');
  });
});

describe('annotations', () => {
  it('maps a fleet error to its line (columns only on one line), under the fleet dir', () => {
    expect(repoPath('fleet', 'customers/a.yml')).toBe('fleet/customers/a.yml');
    expect(repoPath('.', 'customers/a.yml')).toBe('customers/a.yml');
    const a = fleetErrorAnnotation({ file: 'customers/a.yml', line: 7, column: 8, endColumn: 20, path: 'image.tag', message: 'bad tag', severity: 'error' }, 'fleet');
    expect(a).toMatchObject({ path: 'fleet/customers/a.yml', start_line: 7, end_line: 7, start_column: 8, end_column: 20, annotation_level: 'failure' });
    const b = fleetErrorAnnotation({ file: 'x.yml', line: 2, column: 1, endLine: 4, path: '', message: 'm', severity: 'warning' }, '.');
    expect(b.start_column).toBeUndefined();
    expect(b.annotation_level).toBe('warning');
  });
  it('batches by 50', () => {
    expect(batches(Array.from({ length: 120 }, (_, i) => i)).map((b) => b.length)).toEqual([50, 50, 20]);
    expect(batches([])).toEqual([]);
  });
});

describe('KeyedQueue', () => {
  it('runs jobs of one key one at a time, other keys in parallel', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const job = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
    };
    const a1 = q.run('a', job('a1', 30));
    const a2 = q.run('a', job('a2', 1));
    const b1 = q.run('b', job('b1', 1));
    expect(q.pending('a')).toBe(2);
    await Promise.all([a1, a2, b1]);
    expect(log.indexOf('start a2')).toBeGreaterThan(log.indexOf('end a1'));
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1'));
    expect(q.pending('a')).toBe(0);
  });
  it('a failing job does not block the next', async () => {
    const q = new KeyedQueue();
    await expect(q.run('a', async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(q.run('a', async () => 42)).resolves.toBe(42);
  });
});

describe('CheckRun throttle', () => {
  it('sends at most one progress update per interval (latest wins) and always the final one', async () => {
    const updates: Array<Record<string, unknown>> = [];
    const fake = {
      rest: {
        checks: {
          create: async () => ({ data: { id: 1, html_url: 'http://x/runs/1' } }),
          update: async (b: Record<string, unknown>) => void updates.push(b),
        },
      },
    } as unknown as GitHubClient;
    const run = await CheckRun.start(fake, { owner: 'o', repo: 'r' }, { name: 'n', headSha: 'a'.repeat(40), output: { title: 't', summary: 's' }, minIntervalMs: 200 });
    for (let i = 0; i < 20; i++) {
      run.progress({ title: `p${i}`, summary: 's' });
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 250));
    run.progress({ title: 'late', summary: 's' });
    await run.complete('success', { title: 'done', summary: 's' });
    const progress = updates.filter((u) => !u.conclusion);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(3); // ~400 ms of updates every 20 ms at one per 200 ms
    expect((progress.at(-1)!.output as { title: string }).title).toBe('p19');
    expect(updates.at(-1)).toMatchObject({ conclusion: 'success', status: 'completed' });
  });
});

describe('Slack notifier', () => {
  it('posts to the incoming webhook and never prints its URL when Slack fails', async () => {
    const { createServer } = await import('node:http');
    const { slackNotifier } = await import('../../src/github/notify.js');
    const got: string[] = [];
    let fail = false;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        got.push(body);
        res.writeHead(fail ? 500 : 200).end(fail ? 'boom' : 'ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/services/T1/B1/sekr3tpath`;
    const warnings: string[] = [];
    const n = slackNotifier(url, { warn: (o, m) => void warnings.push(JSON.stringify(o) + (m ?? '')) });
    await n.send('ring canary succeeded');
    expect(JSON.parse(got[0]!)).toEqual({ text: 'ring canary succeeded' });
    fail = true;
    await n.send(`oops ${url}`);
    expect(JSON.parse(got[1]!).text).not.toContain('sekr3tpath');
    expect(warnings.join('\n')).not.toContain('sekr3tpath');
    server.close();
  });
});

describe('renderResult title', () => {
  const host = (outcome: 'upgraded' | 'rolled-back') => ({
    customerId: outcome === 'upgraded' ? 'acme' : 'bravo',
    target: 'deploy@127.0.0.1:22',
    fromTag: 'v1',
    toTag: 'v2',
    outcome,
    message: '',
    steps: [],
    startedAt: '2026-12-03T00:00:00Z',
    durationMs: 1000,
  });
  const result = (hosts: ReturnType<typeof host>[], failures: number): RolloutResult => ({
    runId: 'r1',
    status: failures ? 'failed' : 'stopped',
    reason: failures ? 'budget spent' : 'tanaka is outside its maintenance window',
    startedAt: '2026-12-03T00:00:00Z',
    finishedAt: '2026-12-03T00:01:00Z',
    durationMs: 60_000,
    failures,
    rings: [{ ring: 'early', status: 'stopped', hosts, skipped: [{ customerId: 'tanaka', ring: 'early', converged: false, toTag: 'v2', reason: 'outside its maintenance window' }] }],
    badTags: [],
  });

  it('a stop without failures says what is pending, not "0 host(s) failed"', () => {
    const out = renderResult(result([host('upgraded')], 0), { commit: 'a'.repeat(40) });
    expect(out.title).toBe('Rollout stopped: 1 upgraded, 1 not started');
    expect(out.summary).toContain('outside its maintenance window');
    // not observed, so no source tag; never a bare tag that reads as "already there"
    expect(out.summary).toMatch(/\| early \| tanaka \| → `v2` \| ⏭️ skipped: outside its maintenance window \|/);
  });

  it('a failed rollout counts the failed hosts', () => {
    const out = renderResult(result([host('upgraded'), host('rolled-back')], 1), { commit: 'a'.repeat(40) });
    expect(out.title).toBe('Rollout failed: 1 host(s) failed');
  });
});
