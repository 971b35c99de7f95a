// Promotion: once a ring completed with a tag and stayed healthy through its
// bake, the next ring's customers get the same tag. The result is a set of
// file edits (whole-file before/after texts, produced by the fleet package's
// YAML-preserving tag edit) that the GitHub App opens as one PR on a fixed
// branch per target ring, or the CLI writes to a local branch.
import { setCustomerTag } from '../fleet/index.js';
import type { Customer, Fleet, FleetSource } from '../fleet/types.js';
import type { StateStore } from './state.js';

export interface FileEdit {
  /** Path relative to the fleet root, e.g. "customers/acme.yml". */
  path: string;
  before: string;
  after: string;
}

export interface Promotion {
  fromRing: string;
  targetRing: string;
  tag: string;
  title: string;
  branch: string;
  /** Markdown PR body. */
  body: string;
  autoPromote: boolean;
  edits: FileEdit[];
  /** Next-ring customers left out, and why. */
  skipped: Array<{ customerId: string; reason: string }>;
}

export type PromotionDecision = { ok: true; promotion: Promotion } | { ok: false; reason: string };

/** Rewrites the tag in a customer file's YAML text, keeping everything else. */
export type SetTag = (yamlText: string, tag: string) => string;

export interface PromotionOptions {
  /** Fleet at the commit that was rolled out. */
  fleet: Fleet;
  /** Files of that same fleet version (to edit them). */
  source: FleetSource;
  /** The ring that completed. */
  ring: string;
  tag: string;
  state: StateStore;
  /** Default: the fleet package's setCustomerTag (keeps comments and layout). */
  setTag?: SetTag;
  /** Default true: the ring must have passed its bake for this tag. */
  requireBaked?: boolean;
}

export async function planPromotion(opts: PromotionOptions): Promise<PromotionDecision> {
  const { fleet, ring: ringName, tag, state } = opts;
  const ring = fleet.rings[ringName];
  if (!ring) return { ok: false, reason: `ring "${ringName}" does not exist` };
  if (!ring.next) return { ok: false, reason: `ring ${ringName} is the last ring: nothing to promote to` };
  const target = fleet.rings[ring.next];
  if (!target) return { ok: false, reason: `ring ${ringName} names next ring "${ring.next}", which does not exist` };

  const bad = await state.isBadTag(tag);
  if (bad) return { ok: false, reason: `tag ${tag} is marked bad (${bad.reason}); it is never promoted automatically` };

  if (opts.requireBaked !== false) {
    const done = await state.getRingCompletion(ringName, tag);
    if (!done) return { ok: false, reason: `ring ${ringName} has not completed with ${tag}` };
    if (!done.bakedAt) {
      const until = new Date(new Date(done.completedAt).getTime() + ring.bakeSeconds * 1000).toISOString();
      return { ok: false, reason: `ring ${ringName} is still baking ${tag} (until ${until})` };
    }
  }

  const members = Object.values(fleet.customers)
    .filter((c) => c.ring === target.name)
    .sort((a, b) => a.id.localeCompare(b.id));
  const edits: FileEdit[] = [];
  const skipped: Promotion['skipped'] = [];
  for (const c of members) {
    const why = skipReason(c, tag);
    if (why) {
      skipped.push({ customerId: c.id, reason: why });
      continue;
    }
    const before = new TextDecoder('utf-8', { fatal: true }).decode(await opts.source.read(c.file));
    const after = (opts.setTag ?? setCustomerTag)(before, tag);
    if (after === before) {
      // The tag comes from the defaults file, not the customer file: say so rather than edit defaults.
      skipped.push({ customerId: c.id, reason: 'tag not set in the customer file (inherited from defaults)' });
      continue;
    }
    edits.push({ path: c.file, before, after });
  }
  if (edits.length === 0) {
    return {
      ok: false,
      reason: `nothing to promote: every customer of ring ${target.name} is already at ${tag} or left out`,
    };
  }

  const title = `Promote ${tag} to ${target.name}`;
  const body = [
    `Ring **${ringName}** completed with \`${tag}\`${ring.bakeSeconds ? ` and stayed healthy through its ${ring.bakeSeconds} s bake` : ''}.`,
    '',
    `This changes ${edits.length} customer file(s) in ring **${target.name}**:`,
    '',
    ...edits.map((e) => `- \`${e.path}\``),
    ...(skipped.length ? ['', 'Left out:', '', ...skipped.map((s) => `- ${s.customerId}: ${s.reason}`)] : []),
    '',
    `The check run on this PR is the dry run for ring ${target.name}.`,
  ].join('\n');

  return {
    ok: true,
    promotion: {
      fromRing: ringName,
      targetRing: target.name,
      tag,
      title,
      branch: `fleetkeeper/promote-${target.name}`,
      body,
      autoPromote: ring.autoPromote,
      edits,
      skipped,
    },
  };
}

function skipReason(c: Customer, tag: string): string | undefined {
  if (c.hold) return `held: ${c.hold.reason}`;
  // Pinned to a digest: the operator chose an exact image on purpose.
  if (c.image.tag.startsWith('sha256:')) return `pinned to ${c.image.tag}`;
  if (c.image.tag === tag) return `already at ${tag}`;
  return undefined;
}
