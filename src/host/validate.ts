// Second line of defence before anything reaches a host: the fleet schema
// already validated every value, but the host layer re-checks the ones it
// puts into commands (a Customer built elsewhere, or a schema bug, must not
// become a shell injection). Values are quoted anyway.
import type { Customer } from '../fleet/types.js';
import { FINGERPRINT_PATTERN } from '../ssh/fingerprint.js';

const TAG = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})$/;
const REPO = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const ABS_DIR = /^\/(?:[A-Za-z0-9_.@+-]+\/?)*$/;
const REL_FILE = /^[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*$/;
const PROJECT = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const SITE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[?[0-9a-fA-F:.]+\]?)$/;
const URL_RE = /^https?:\/\/[A-Za-z0-9.[\]:-]+(?::[0-9]{1,5})?(?:\/[A-Za-z0-9._~/-]*)?$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class UnsafeCustomerError extends Error {
  constructor(
    readonly customerId: string,
    readonly problems: string[],
  ) {
    super(`customer ${JSON.stringify(customerId)}: refusing to run anything, invalid values: ${problems.join('; ')}`);
    this.name = 'UnsafeCustomerError';
  }
}

const noDotDot = (p: string) => !p.split('/').includes('..');

/** Problems with the values the host layer puts into commands; [] when all are safe. */
export function shellSafetyProblems(c: Customer): string[] {
  const p: string[] = [];
  const check = (ok: boolean, field: string, value: unknown) => {
    if (!ok) p.push(`${field}=${JSON.stringify(value)}`);
  };
  check(typeof c.id === 'string' && ID.test(c.id), 'id', c.id);
  check(TAG.test(c.image?.tag ?? ''), 'image.tag', c.image?.tag);
  check(REPO.test(c.image?.repository ?? ''), 'image.repository', c.image?.repository);
  check(ABS_DIR.test(c.compose?.dir ?? '') && noDotDot(c.compose.dir), 'compose.dir', c.compose?.dir);
  check(c.compose?.project === undefined || PROJECT.test(c.compose.project), 'compose.project', c.compose?.project);
  for (const f of c.compose?.files ?? []) check((REL_FILE.test(f) || ABS_DIR.test(f)) && noDotDot(f), 'compose.files[]', f);
  if (c.sites !== 'all') {
    check(Array.isArray(c.sites) && c.sites.length > 0, 'sites', c.sites);
    for (const s of Array.isArray(c.sites) ? c.sites : []) check(SITE.test(s), 'sites[]', s);
  }
  check(ABS_DIR.test(c.backup?.dir ?? '') && noDotDot(c.backup.dir), 'backup.dir', c.backup?.dir);
  check(URL_RE.test(c.health?.url ?? ''), 'health.url', c.health?.url);
  check(USER.test(c.ssh?.user ?? ''), 'ssh.user', c.ssh?.user);
  check(HOST.test(c.ssh?.host ?? ''), 'ssh.host', c.ssh?.host);
  check(FINGERPRINT_PATTERN.test(c.ssh?.hostKey ?? ''), 'ssh.hostKey', c.ssh?.hostKey);
  for (const [k, v] of Object.entries(c.timeouts ?? {})) check(Number.isFinite(v) && v > 0 && v <= 86400 * 2, `timeouts.${k}`, v);
  for (const [k, v] of Object.entries({ attempts: c.health?.attempts, intervalSeconds: c.health?.intervalSeconds, timeoutSeconds: c.health?.timeoutSeconds })) {
    check(typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 3600, `health.${k}`, v);
  }
  check(Number.isInteger(c.backup?.keep) && c.backup.keep >= 1, 'backup.keep', c.backup?.keep);
  return p;
}
