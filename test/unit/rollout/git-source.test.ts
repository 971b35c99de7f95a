import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitRefSource, gitInfo, resolveCommit } from '../../../src/rollout/git-source.js';

let repo: string;
const g = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'fk-git-'));
  g('init', '-q', '-b', 'main');
  g('config', 'user.email', 't@example.invalid');
  g('config', 'user.name', 't');
  await mkdir(join(repo, 'fleet/customers'), { recursive: true });
  await writeFile(join(repo, 'fleet/customers/a.yml'), 'tag: v1\n');
  await writeFile(join(repo, 'fleet/.hidden'), 'x');
  await writeFile(join(repo, 'README.md'), 'outside the fleet\n');
  g('add', '-A');
  g('commit', '-q', '-m', 'one');
  await writeFile(join(repo, 'fleet/customers/a.yml'), 'tag: v2\n');
  await writeFile(join(repo, 'fleet/customers/b.yml'), 'tag: v2\n');
  g('add', '-A');
  g('commit', '-q', '-m', 'two');
  await writeFile(join(repo, 'fleet/customers/a.yml'), 'tag: v3\n');
});
afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe('GitRefSource', () => {
  it('reads the fleet directory as it was at a ref', async () => {
    const s = await GitRefSource.open(join(repo, 'fleet'), 'HEAD~1');
    expect(await s.list()).toEqual(['customers/a.yml']);
    expect(new TextDecoder().decode(await s.read('customers/a.yml'))).toBe('tag: v1\n');
    const h = await GitRefSource.open(join(repo, 'fleet'), 'HEAD');
    expect(await h.list()).toEqual(['customers/a.yml', 'customers/b.yml']);
    expect(new TextDecoder().decode(await h.read('customers/a.yml'))).toBe('tag: v2\n');
    await expect(h.read('customers/zz.yml')).rejects.toThrow(/does not exist/);
  });

  it('knows whether the fleet directory is dirty, and refuses odd refs', async () => {
    const info = await gitInfo(join(repo, 'fleet'));
    expect(info).toMatchObject({ prefix: 'fleet/', dirty: true });
    await expect(resolveCommit(repo, '--output=/tmp/x')).rejects.toThrow(/not a usable git ref/);
    await expect(resolveCommit(repo, 'nope')).rejects.toThrow(/does not name a commit/);
    expect(await gitInfo(tmpdir())).toBeUndefined();
  });
});
