// Ansible inventory → fleet files. Pure: takes parsed hosts, returns file
// contents and notes; the CLI decides what to write.
import { stringify } from 'yaml';
import { checkDefinition } from '../schemas.js';
import { renderCustomerFile } from '../edit.js';
import { ID_PATTERN, PLACEHOLDER_PREFIX } from '../load.js';
import type { InventoryHost } from './inventory.js';

export const HOST_KEY_PLACEHOLDER = `${PLACEHOLDER_PREFIX}-run-fleetkeeper-keyscan`;
export const TAG_PLACEHOLDER = `${PLACEHOLDER_PREFIX}-tag-the-hosts-run-today`;

export const STANDARD_RINGS: Array<{ name: string; order: number; text: string }> = [
  { name: 'canary', order: 1, text: 'description: First to get a new tag; pick one or two hosts that report problems quickly.\norder: 1\nconcurrency: 1\nfailureBudget: 0\nbakeTime: 1d\nnext: early\nautoPromote: false\n' },
  { name: 'early', order: 2, text: 'description: Customers who agreed to get updates early.\norder: 2\nconcurrency: 2\nfailureBudget: 1\nbakeTime: 2d\nnext: broad\nautoPromote: false\n' },
  { name: 'broad', order: 3, text: 'description: Everyone else.\norder: 3\nconcurrency: 4\nfailureBudget: 2\nbakeTime: 0m\n' },
];

/** Variables that hold secrets or controller-side paths: never copied, only mentioned by name. */
const NOT_COPIED = /pass|secret|token|key_file|private_key|vault/i;

export interface ImportOptions {
  /** Only hosts in this group (directly or via children). */
  group?: string;
  /** Ring for hosts in no ring-like group. */
  defaultRing: string;
  /** Existing rings (name → order); standard rings are used when empty. */
  rings: Map<string, number>;
  tag?: string;
  repository?: string;
  /** Shown in each customer file's header comment. */
  inventoryName: string;
}

export interface ImportPlan {
  /** Paths relative to the fleet root → content. */
  files: Map<string, string>;
  /** Things the operator should read (renames, guesses, ignored secrets). */
  notes: string[];
  /** Problems that stop the import. */
  errors: string[];
}

export function toCustomerId(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-{2,}/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
}

/** A group name that means a ring: canary, canary_group, early-hosts, broad_servers, ring_canary... */
function ringOfGroup(group: string, rings: Map<string, number>): string | undefined {
  const n = group.toLowerCase().replace(/_/g, '-').replace(/^ring-/, '').replace(/-(group|hosts|servers|ring)$/, '');
  return rings.has(n) ? n : undefined;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return String(v).trim();
}

const first = (vars: Record<string, unknown>, ...names: string[]) => names.map((n) => str(vars[n])).find((v) => v !== undefined && v !== '');

export function planImport(hosts: Map<string, InventoryHost>, opts: ImportOptions): ImportPlan {
  const notes: string[] = [];
  const errors: string[] = [];
  const files = new Map<string, string>();
  const rings = opts.rings.size ? opts.rings : new Map(STANDARD_RINGS.map((r) => [r.name, r.order]));
  if (!rings.has(opts.defaultRing)) errors.push(`--ring ${opts.defaultRing}: no such ring (rings: ${[...rings.keys()].join(', ')})`);

  let selected = [...hosts.values()];
  if (opts.group) {
    selected = selected.filter((h) => h.groups.has(opts.group!));
    if (selected.length === 0) {
      const groups = [...new Set([...hosts.values()].flatMap((h) => [...h.groups]))].filter((g) => g !== 'all').sort();
      errors.push(`group '${opts.group}' has no hosts in the inventory (groups with hosts: ${groups.join(', ') || 'none'})`);
    }
  }
  if (hosts.size === 0) errors.push('the inventory has no hosts');
  selected.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // A value every host shares goes to defaults.yml once.
  const users = new Set(selected.map((h) => first(h.vars, 'ansible_user', 'ansible_ssh_user', 'ansible_ssh_user_name')));
  const sharedUser = users.size === 1 ? [...users][0] : undefined;
  const ids = new Map<string, string>();
  const ignoredSecrets = new Set<string>();

  for (const h of selected) {
    const id = toCustomerId(h.name);
    if (!ID_PATTERN.test(id)) { errors.push(`host '${h.name}' gives no usable customer id`); continue; }
    const clash = ids.get(id);
    if (clash) { errors.push(`hosts '${clash}' and '${h.name}' would both become customers/${id}.yml; rename one in the inventory`); continue; }
    ids.set(id, h.name);
    if (id !== h.name) notes.push(`host ${h.name} → customers/${id}.yml (ids are lower-case letters, digits and '-')`);
    for (const k of Object.keys(h.vars)) if (NOT_COPIED.test(k)) ignoredSecrets.add(k);

    const comment = [`imported from ${opts.inventoryName} (Ansible host ${h.name})`];
    const field = (def: string, value: string | undefined, what: string, placeholder: string): string => {
      if (value === undefined) {
        notes.push(`${id}: no ${what} in the inventory; left a placeholder in customers/${id}.yml`);
        return placeholder;
      }
      if (!checkDefinition(def, value)) {
        notes.push(`${id}: ${what} '${value}' from the inventory is not usable as is (templated or invalid); left a placeholder`);
        comment.push(`inventory had ${what}: ${value.replace(/\n/g, ' ')}`);
        return placeholder;
      }
      return value;
    };
    const hostValue = first(h.vars, 'ansible_host', 'ansible_ssh_host') ?? (checkDefinition('sshHost', h.name) ? h.name : undefined);
    const portText = first(h.vars, 'ansible_port', 'ansible_ssh_port');
    let port: number | undefined;
    if (portText !== undefined) {
      port = /^[0-9]+$/.test(portText) ? Number(portText) : NaN;
      if (!checkDefinition('sshPort', port)) { errors.push(`${h.name}: ansible_port '${portText}' is not a port number`); continue; }
      if (port === 22) port = undefined;
    }
    const user = first(h.vars, 'ansible_user', 'ansible_ssh_user');
    const groupRings = [...h.groups].map((g) => ringOfGroup(g, rings)).filter((r): r is string => !!r);
    const uniqueRings = [...new Set(groupRings)].sort((a, b) => rings.get(a)! - rings.get(b)!);
    const ring = uniqueRings[0] ?? opts.defaultRing;
    if (uniqueRings.length > 1) notes.push(`${id}: in groups for rings ${uniqueRings.join(', ')}; put in ${ring} (the earliest)`);

    files.set(`customers/${id}.yml`, renderCustomerFile({
      schemaPath: '../schemas/customer.schema.json',
      comment,
      ring,
      ssh: {
        host: field('sshHost', hostValue, 'ssh host', `${PLACEHOLDER_PREFIX}-ssh-host`),
        port,
        user: sharedUser !== undefined || user === undefined ? undefined : field('sshUser', user, 'ssh user', `${PLACEHOLDER_PREFIX}-ssh-user`),
        hostKey: HOST_KEY_PLACEHOLDER,
      },
      compose: { dir: field('absDir', first(h.vars, 'erpnext_dir', 'frappe_docker_dir', 'compose_dir'), 'erpnext_dir', `${PLACEHOLDER_PREFIX}-compose-dir`) },
    }));
  }
  if (ignoredSecrets.size) notes.push(`not copied (secrets or controller paths stay out of the fleet repo): ${[...ignoredSecrets].sort().join(', ')}`);

  const defaults: Record<string, unknown> = {};
  if (sharedUser !== undefined) {
    defaults.ssh = { user: checkDefinition('sshUser', sharedUser) ? sharedUser : `${PLACEHOLDER_PREFIX}-ssh-user` };
  } else if (users.has(undefined)) {
    defaults.ssh = { user: `${PLACEHOLDER_PREFIX}-ssh-user` };
    notes.push('some hosts have no ansible_user; set ssh.user in defaults.yml');
  }
  const tag = opts.tag ?? TAG_PLACEHOLDER;
  if (!opts.tag) notes.push('the inventory does not say which ERPNext tag the hosts run: set image.tag in defaults.yml (or pass --tag)');
  defaults.image = { repository: opts.repository ?? 'frappe/erpnext', tag };
  files.set('defaults.yml', [
    '# yaml-language-server: $schema=schemas/defaults.schema.json',
    `# Fleet-wide defaults, imported from ${opts.inventoryName}. A customer file`,
    '# overrides only what differs. Built-in defaults (port 22, backups, health',
    '# checks, timeouts) are listed in schemas/customer.schema.json.',
    '',
    stringify(defaults, { lineWidth: 0 }).trimEnd(),
    '',
  ].join('\n'));

  if (!opts.rings.size) {
    for (const r of STANDARD_RINGS) files.set(`rings/${r.name}.yml`, `# yaml-language-server: $schema=../schemas/ring.schema.json\n${r.text}`);
  }
  return { files, notes, errors };
}
