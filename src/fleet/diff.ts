// What changes between two versions of a fleet (e.g. a PR's base and head):
// the input for plans and for the PR summary.
import type { Customer, CustomerChange, Fleet, FleetDiff, Ring } from './types.js';

/** Leaf values by dotted path; lists count as one value. */
function flatten(v: unknown, prefix = '', out: Map<string, string> = new Map()): Map<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out.set(prefix, JSON.stringify(v));
  return out;
}

function changedFields(a: object, b: object, ignore: string[]): string[] {
  const fa = flatten(a);
  const fb = flatten(b);
  const keys = new Set([...fa.keys(), ...fb.keys()]);
  return [...keys].filter((k) => !ignore.includes(k) && fa.get(k) !== fb.get(k)).sort();
}

/** Paths that matter for how a host is reached; a change here needs extra care in review. */
export const CONNECTION_FIELDS = ['ssh.host', 'ssh.port', 'ssh.user', 'ssh.hostKey', 'compose.dir', 'compose.project', 'compose.files'];

export function diffFleets(base: Fleet, head: Fleet): FleetDiff {
  const changes: CustomerChange[] = [];
  const ids = [...new Set([...Object.keys(base.customers), ...Object.keys(head.customers)])].sort();
  for (const id of ids) {
    const before: Customer | undefined = base.customers[id];
    const after: Customer | undefined = head.customers[id];
    if (before && !after) changes.push({ id, kind: 'removed', before, tag: { from: before.image.tag }, fields: [] });
    else if (!before && after) changes.push({ id, kind: 'added', after, tag: { to: after.image.tag }, fields: [] });
    else if (before && after) {
      // `file` moves when .yml becomes .yaml; that changes nothing on the host.
      const fields = changedFields(before, after, ['file']);
      if (fields.length) changes.push({ id, kind: 'changed', before, after, tag: { from: before.image.tag, to: after.image.tag }, fields });
    }
  }
  const ringNames = [...new Set([...Object.keys(base.rings), ...Object.keys(head.rings)])].sort();
  const ringsChanged = ringNames.filter((n) => {
    const a: Ring | undefined = base.rings[n];
    const b: Ring | undefined = head.rings[n];
    return !a || !b || changedFields(a, b, ['file']).length > 0;
  });
  return { changes, ringsChanged };
}

/** True if the change touches how the host is reached (address, user, key, project location). */
export function touchesConnection(c: CustomerChange): boolean {
  return c.fields.some((f) => CONNECTION_FIELDS.includes(f));
}
