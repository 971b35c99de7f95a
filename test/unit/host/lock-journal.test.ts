import { describe, expect, it } from 'vitest';
import { describeLock, parseLockState } from '../../../src/host/lock.js';
import { parseJournal } from '../../../src/host/journal.js';

const meta = '{"runId":"r-1","commit":"0123456789abcdef","pid":4242,"since":"2026-12-03T10:00:00Z","leaseUntil":"2026-12-03T12:00:00Z","bootId":"boot-a","host":"h"}';

describe('host lock state', () => {
  it('no lock', () => {
    expect(parseLockState('NONE\n', '/d/.fleetkeeper/lock.json')).toBeUndefined();
  });
  it('held by a live holder', () => {
    const l = parseLockState(`HELD\nBOOT boot-a\n${meta}\n`, '/d/.fleetkeeper/lock.json')!;
    expect(l).toMatchObject({ runId: 'r-1', commit: '0123456789abcdef', pid: 4242, stale: false, leaseUntil: '2026-12-03T12:00:00Z' });
    expect(describeLock(l)).toBe(
      'host is locked by run r-1 (commit 0123456789ab) since 2026-12-03T10:00:00Z, lease until 2026-12-03T12:00:00Z, holder pid 4242. If that run is no longer active, clear it on the host with: kill 4242 2>/dev/null; rm /d/.fleetkeeper/lock.json',
    );
  });
  it('flock free but metadata left behind = stale (crashed run)', () => {
    const l = parseLockState(`FREE\nBOOT boot-a\n${meta}\n`, '/d/.fleetkeeper/lock.json')!;
    expect(l.stale).toBe(true);
    expect(describeLock(l)).toMatch(/^host lock left by a crashed or interrupted run r-1 .* rm \/d\/\.fleetkeeper\/lock\.json$/);
  });
  it('host rebooted since the lock was taken = stale', () => {
    expect(parseLockState(`HELD\nBOOT boot-b\n${meta}\n`, '/x')!.stale).toBe(true);
  });
  it('unreadable metadata is still a lock, never ignored', () => {
    expect(parseLockState('FREE\nBOOT b\ngarbage\n', '/x')).toMatchObject({ runId: 'unreadable lock.json', stale: true });
  });
});

describe('journal', () => {
  it('parses or rejects', () => {
    expect(parseJournal('')).toBeUndefined();
    expect(parseJournal('{bad')).toBeUndefined();
    expect(parseJournal('{"runId":"r","phase":"migrating","fromTag":"a","toTag":"b","backups":[],"updatedAt":"t"}')?.phase).toBe('migrating');
  });
});
