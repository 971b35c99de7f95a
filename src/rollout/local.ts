// The operator's side of the engine: everything the CLI needs to plan and
// apply from a local checkout of the fleet repo (so the fleet can be run when
// GitHub is down). Kept out of cli/commands so plan, apply and status share it.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { diffFleets, formatError, loadFleet, LocalDirSource } from '../fleet/index.js';
import type { Fleet, FleetDiff, FleetSource } from '../fleet/types.js';
import { createOfflineDriver, createSshDriver } from '../host/driver-ssh.js';
import type { HostDriver } from '../host/types.js';
import { loadSshCredentials } from '../ssh/credentials.js';
import { GitRefSource, gitInfo } from './git-source.js';

/** An error the CLI prints as is (no stack) and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function newRunId(prefix = 'run'): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${prefix}-${t}-${randomBytes(3).toString('hex')}`;
}

/** Loads a fleet or throws a CliError listing every problem as file:line:col. */
export async function loadFleetOrExplain(source: FleetSource): Promise<{ fleet: Fleet; warnings: string[] }> {
  const res = await loadFleet(source);
  if (!res.ok) {
    const lines = res.errors.map((e) => formatError(e));
    throw new CliError(`${source.label}: the fleet has ${res.errors.length} error(s):\n${lines.join('\n')}`);
  }
  return { fleet: res.fleet, warnings: res.warnings.map((w) => formatError(w)) };
}

export interface BaseChoice {
  /** undefined = no base: compare with what the hosts report. */
  ref?: string;
  why: string;
}

/**
 * Default base for `plan` when --base is not given:
 * - fleet directory has uncommitted changes → HEAD (the plan shows your edits);
 * - clean → HEAD~1 (the plan shows what the last commit changes, which is what
 *   the bot applies when that commit lands on the default branch);
 * - not a git checkout, or no parent commit → no base.
 */
export async function chooseBase(dir: string, explicit: string | false | undefined): Promise<BaseChoice> {
  if (explicit === false) return { why: '--no-base: every host compared with what it reports' };
  if (typeof explicit === 'string') return { ref: explicit, why: '--base' };
  const info = await gitInfo(dir);
  if (!info || !info.head) return { why: 'not a git checkout: every host compared with what it reports' };
  if (info.dirty) return { ref: 'HEAD', why: 'uncommitted changes: base is HEAD' };
  try {
    const { resolveCommit } = await import('./git-source.js');
    await resolveCommit(info.root, 'HEAD~1');
    return { ref: 'HEAD~1', why: 'clean checkout: base is HEAD~1 (what the last commit changes)' };
  } catch {
    return { why: 'first commit: every host compared with what it reports' };
  }
}

export interface LocalFleet {
  dir: string;
  head: Fleet;
  headSource: FleetSource;
  base?: Fleet;
  baseLabel?: string;
  diff?: FleetDiff;
  /** HEAD commit when the fleet directory is clean: what is applied. */
  commit?: string;
  dirty: boolean;
  warnings: string[];
}

export async function openLocalFleet(dirArg: string | undefined, base?: BaseChoice): Promise<LocalFleet> {
  const dir = resolve(dirArg ?? '.');
  const headSource = new LocalDirSource(dir);
  const { fleet: head, warnings } = await loadFleetOrExplain(headSource);
  const info = await gitInfo(dir);
  const out: LocalFleet = {
    dir,
    head,
    headSource,
    commit: info && !info.dirty ? info.head : undefined,
    dirty: info?.dirty ?? false,
    warnings,
  };
  if (base?.ref) {
    const src = await GitRefSource.open(dir, base.ref);
    const loaded = await loadFleetOrExplain(src).catch((e: unknown) => {
      throw new CliError(`base ${base.ref}: ${e instanceof Error ? e.message : String(e)}`);
    });
    out.base = loaded.fleet;
    out.baseLabel = src.label;
    out.diff = diffFleets(loaded.fleet, head);
  }
  return out;
}

/** The live driver (SSH key from the environment) or the offline one. */
export function createDriver(live: boolean): HostDriver {
  if (!live) return createOfflineDriver();
  let credentials;
  try {
    credentials = loadSshCredentials();
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
  return createSshDriver({ credentials });
}
