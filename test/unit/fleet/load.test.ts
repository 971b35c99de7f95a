import { describe, expect, it } from 'vitest';
import { baseFleet, expectOk, expectOneError, load, loadWith, replaceLine, errorsOf, KEY_A } from './helpers.js';

const acme = () => baseFleet()['customers/acme.yml']!;
const withAcmeLine = (line: number, text: string) => ({ 'customers/acme.yml': replaceLine(acme(), line, text) });
const withAcmeExtra = (text: string) => ({ 'customers/acme.yml': acme() + text });

describe('the base fleet', () => {
  it('loads, resolved with defaults and built-in defaults', async () => {
    const r = await load(baseFleet());
    expectOk(r);
    if (!r.ok) return;
    const c = r.fleet.customers.acme!;
    expect(c).toMatchObject({
      id: 'acme', file: 'customers/acme.yml', ring: 'canary',
      ssh: { host: 'erp.acme.example', port: 22, user: 'deploy', hostKey: KEY_A },
      compose: { dir: '/opt/acme/frappe_docker', files: [] },
      sites: 'all',
      image: { repository: 'frappe/erpnext', tag: 'v15.40.1' },
      backup: { dir: '/var/backups/fleetkeeper', keep: 3, withFiles: false, minSizeRatio: 0.5 },
      health: { url: 'http://127.0.0.1:8080', attempts: 3 },
      timeouts: { migrateSeconds: 7200 },
    });
    expect(c.compose.project).toBeUndefined();
    expect(r.fleet.ringOrder).toEqual(['canary', 'broad']);
    expect(r.fleet.rings.canary).toEqual({ name: 'canary', file: 'rings/canary.yml', order: 1, concurrency: 1, failureBudget: 0, bakeSeconds: 86400, next: 'broad', autoPromote: true });
    expect(r.fleet.rings.broad!.autoPromote).toBe(false);
    expect(r.fleet.positions['customers/acme.yml#/image/tag']).toEqual({ file: 'customers/acme.yml', line: 9, column: 8 });
    // inherited values point at the file that set them
    expect(r.fleet.positions['customers/acme.yml#/ssh/user']).toEqual({ file: 'defaults.yml', line: 2, column: 9 });
    expect(r.warnings).toEqual([]);
  });

  it('customer values override defaults; objects merge, lists replace', async () => {
    const r = await loadWith({
      'defaults.yml': 'ssh:\n  user: deploy\n  port: 2200\nsites: [a.example, b.example]\nbackup:\n  keep: 9\n',
      'customers/acme.yml': acme() + 'sites: [c.example]\nbackup:\n  withFiles: true\nssh:\n  user: root\n'.replace('ssh:\n  user: root\n', ''),
    });
    expectOk(r);
    if (!r.ok) return;
    expect(r.fleet.customers.acme!.sites).toEqual(['c.example']);
    expect(r.fleet.customers.globex!.sites).toEqual(['a.example', 'b.example']);
    expect(r.fleet.customers.acme!.backup).toMatchObject({ keep: 9, withFiles: true });
    expect(r.fleet.customers.acme!.ssh.port).toBe(2200);
  });
});

describe('values that reach a shell', () => {
  const cases: Array<[string, number, string, string, RegExp]> = [
    ['image tag', 9, '  tag: v15.40;rm', 'image.tag', /^'v15\.40;rm' is not a valid image tag \(letters, digits, '\.', '_', '-'; at most 128 characters/],
    ['image tag too long', 9, `  tag: v${'1'.repeat(128)}`, 'image.tag', /is not a valid image tag/],
    ['tag with $()', 9, '  tag: "$(reboot)"', 'image.tag', /^'\$\(reboot\)' is not a valid image tag/],
    ['digest in upper case', 9, `  tag: sha256:${'A'.repeat(64)}`, 'image.tag', /is not a valid image tag/],
    ['compose dir relative', 7, '  dir: opt/acme', 'compose.dir', /^'opt\/acme' is not a valid directory \(an absolute path/],
    ['compose dir with ..', 7, '  dir: /opt/../etc', 'compose.dir', /^'\/opt\/\.\.\/etc' is not a valid directory/],
    ['compose dir with //', 7, '  dir: /opt//acme', 'compose.dir', /is not a valid directory/],
    ['compose dir with space', 7, '  dir: /opt/acme corp', 'compose.dir', /is not a valid directory/],
    ['compose dir with ;', 7, '  dir: /opt/acme;rm', 'compose.dir', /is not a valid directory/],
    ['ssh host with user@', 4, '  host: root@erp.acme.example', 'ssh.host', /^'root@erp\.acme\.example' is not a valid host/],
    ['ssh host starting with -', 4, '  host: -oProxyCommand=x', 'ssh.host', /is not a valid host/],
    ['ssh host bad IPv4', 4, '  host: 192.0.2.300', 'ssh.host', /^'192\.0\.2\.300' is not a valid IPv4 address$/],
    ['ssh host bad IPv6', 4, '  host: "2001:db8::1::2"', 'ssh.host', /is not a valid IPv6 address/],
    ['host key', 5, '  hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI', 'ssh.hostKey', /is not a valid host key fingerprint \(expected 'SHA256:' followed by 43 base64 characters/],
    ['host key MD5', 5, '  hostKey: MD5:12:34:56', 'ssh.hostKey', /is not a valid host key fingerprint/],
  ];
  for (const [name, line, text, path, msg] of cases) {
    it(`rejects a bad ${name}`, async () => {
      expectOneError(await loadWith(withAcmeLine(line, text)), 'customers/acme.yml', line, msg, path);
    });
  }
  const good: Array<[string, number, string]> = [
    ['digest tag', 9, `  tag: sha256:${'a1'.repeat(32)}`],
    ['tag with dots and dashes', 9, '  tag: version-15.40.1_rc1'],
    ['IPv6 host', 4, '  host: "2001:db8::10"'],
    ['IPv4 host', 4, '  host: 203.0.113.7'],
    ['single-label host', 4, '  host: erp-acme'],
    ['dir with dots in names', 7, '  dir: /srv/acme.gmbh/frappe_docker-v2'],
  ];
  for (const [name, line, text] of good) {
    it(`accepts a ${name}`, async () => expectOk(await loadWith(withAcmeLine(line, text))));
  }

  it('checks the other shell-bound fields', async () => {
    const r = await loadWith(withAcmeExtra([
      'sites: [Erp_Acme]',                            // 10
      'backup:',                                       // 11
      '  dir: backups',                                // 12
      'health:',                                       // 13
      '  url: http://user:pw@127.0.0.1:8080/api',      // 14
      '',
    ].join('\n')).valueOf() as Record<string, string>);
    const text = errorsOf(r).map((e) => `${e.line} ${e.path}: ${e.message}`);
    expect(text).toEqual([
      "10 sites[0]: 'Erp_Acme' is not a valid site name (a lower-case DNS-style name such as erp.acme.example)",
      "12 backup.dir: 'backups' is not a valid directory (an absolute path such as /opt/acme/frappe_docker: letters, digits, '.', '_', '-', '/'; no '..', no '//', no trailing '/')",
      "14 health.url: 'http://user:pw@127.0.0.1:8080/api' is not a valid health URL (http:// or https:// with a host and optional port only, e.g. http://127.0.0.1:8080; no path, query or credentials)",
    ]);
  });

  it('checks compose project, compose files, image repository and ssh user', async () => {
    const r2 = await loadWith({
      'customers/acme.yml': replaceLine(replaceLine(acme(), 7, '  dir: /opt/acme/frappe_docker\n  project: Acme Prod\n  files: [../compose.yaml]'), 11, '  repository: Frappe/ERPNext:v1\n  tag: v1'),
      'defaults.yml': 'ssh:\n  user: Deploy\n',
    });
    expect(errorsOf(r2).map((e) => `${e.file}:${e.line} ${e.path}: ${e.message}`)).toEqual([
      "customers/acme.yml:8 compose.project: 'Acme Prod' is not a valid Compose project name (lower-case letters, digits, '_' and '-', starting with a letter or digit; at most 63 characters)",
      "customers/acme.yml:9 compose.files[0]: '../compose.yaml' is not a valid Compose file name (a relative path such as compose.yaml or overrides/compose.mariadb.yaml: letters, digits, '.', '_', '-', '/'; no leading '/', '.' or '-')",
      "customers/acme.yml:11 image.repository: 'Frappe/ERPNext:v1' is not a valid image repository (lower-case, like frappe/erpnext or registry.example.com:5000/acme/erpnext; no tag, no '@digest')",
      "defaults.yml:2 ssh.user: 'Deploy' is not a valid user name (lower-case letters, digits, '_' and '-', starting with a letter or '_'; at most 32 characters)",
    ]);
  });

  it('accepts a registry with port, a project name and override files', async () => {
    expectOk(await loadWith({
      'customers/acme.yml': replaceLine(replaceLine(acme(), 7, '  dir: /opt/acme/frappe_docker\n  project: erpnext-prod\n  files: [compose.yaml, overrides/compose.mariadb.yaml]'), 11, '  repository: registry.example.com:5000/acme/erpnext\n  tag: v1'),
    }));
  });
});

describe('types and YAML pitfalls', () => {
  it('explains a tag YAML reads as a number', async () => {
    expectOneError(await loadWith(withAcmeLine(9, '  tag: 15.40')), 'customers/acme.yml', 9, 'YAML reads 15.40 as a number; put it in quotes: "15.40"', 'image.tag');
    expectOk(await loadWith(withAcmeLine(9, '  tag: "15.40"')));
  });
  it('explains a quoted port', async () => {
    expectOneError(await loadWith(withAcmeLine(5, `  hostKey: ${KEY_A}\n  port: "2222"`)), 'customers/acme.yml', 6, '"2222" is quoted text; write the number without quotes', 'ssh.port');
    expectOk(await loadWith(withAcmeLine(5, `  hostKey: ${KEY_A}\n  port: 2222`)));
  });
  it('rejects a port out of range', async () => {
    expectOneError(await loadWith(withAcmeLine(5, `  hostKey: ${KEY_A}\n  port: 70000`)), 'customers/acme.yml', 6, '70000 is too large (at most 65535)', 'ssh.port');
  });
  it('explains yes/no for booleans', async () => {
    expectOneError(await loadWith({ 'rings/canary.yml': 'order: 1\nconcurrency: 1\nfailureBudget: 0\nbakeTime: 1d\nnext: broad\nautoPromote: yes\n' }),
      'rings/canary.yml', 6, "'yes' is text; write true or false (without quotes)", 'autoPromote');
  });
  it('reports a field with no value', async () => {
    expectOneError(await loadWith(withAcmeLine(9, '  tag:')), 'customers/acme.yml', 9, 'has no value; expected text', 'image.tag');
  });
  it('reports a mapping where text was expected', async () => {
    expectOneError(await loadWith(withAcmeLine(2, 'ring: {name: canary}')), 'customers/acme.yml', 2, 'expected text, found a mapping', 'ring');
  });
  it('suggests the field meant for an unknown key', async () => {
    expectOneError(await loadWith(withAcmeLine(9, '  tgs: v15.40.1')), 'customers/acme.yml', 9, "unknown field 'tgs' — did you mean 'tag'?", 'image.tgs');
    const e = expectOneError(await loadWith(withAcmeExtra('colour: blue\n')), 'customers/acme.yml', 10, /^unknown field 'colour' \(allowed here: displayName, ring, ssh/);
    expect(e.column).toBe(1);
  });
  it('rejects sites that are neither all nor a list', async () => {
    expectOneError(await loadWith(withAcmeExtra('sites: every\n')), 'customers/acme.yml', 10, "'every': expected `all` or a list of site names", 'sites');
    expectOneError(await loadWith(withAcmeExtra('sites: [a.example, a.example]\n')), 'customers/acme.yml', 10, "'a.example' is listed twice", 'sites[1]');
    expectOneError(await loadWith(withAcmeExtra('sites: [a.example, all]\n')), 'customers/acme.yml', 10, /^'all' cannot be one site among others/);
    expectOk(await loadWith(withAcmeExtra('sites: all\n')));
  });
});

describe('file-level problems are errors, not crashes', () => {
  it('YAML syntax error', async () => {
    const e = expectOneError(await loadWith(withAcmeLine(4, '  host: a: b')), 'customers/acme.yml', 4, 'YAML syntax: Nested mappings are not allowed in compact mappings');
    expect(e.column).toBe(9);
    expectOneError(await loadWith(withAcmeLine(4, '\thost: a')), 'customers/acme.yml', 4, 'YAML syntax: Tabs are not allowed as indentation');
  });
  it('duplicate keys', async () => {
    expectOneError(await loadWith(withAcmeLine(3, 'ring: broad\nssh:')), 'customers/acme.yml', 3, "'ring' appears twice in one mapping; keep one");
  });
  it('empty file and comment-only file', async () => {
    expectOneError(await loadWith({ 'customers/acme.yml': '' }), 'customers/acme.yml', 1, 'file is empty; expected a YAML mapping of fields');
    expectOneError(await loadWith({ 'customers/acme.yml': '# nothing yet\n' }), 'customers/acme.yml', 1, 'file is empty; expected a YAML mapping of fields');
  });
  it('a list at the top', async () => {
    expectOneError(await loadWith({ 'customers/acme.yml': '- ring: canary\n' }), 'customers/acme.yml', 1, 'expected a mapping of fields (key: value) at the top of the file, found a list');
  });
  it('non-UTF-8 bytes, with their line', async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('ring: canary\ndisplayName: M'), 0xfc, ...new TextEncoder().encode('ller\n')]);
    const e = expectOneError(await loadWith({ 'customers/acme.yml': bytes }), 'customers/acme.yml', 2, 'file is not valid UTF-8 (byte 0xfc); save it as UTF-8');
    expect(e.column).toBe(15);
  });
  it('accepts UTF-8 with a byte order mark and non-ASCII text', async () => {
    expectOk(await loadWith({ 'customers/acme.yml': '\ufeff' + acme().replace('# Acme GmbH', 'displayName: 山本商事 Müller') }));
  });
  it('alias bombs', async () => {
    const bomb = 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n';
    expectOneError(await loadWith({ 'customers/acme.yml': bomb }), 'customers/acme.yml', 1, /^too many YAML alias expansions/);
  });
  it('a few aliases are fine', async () => {
    expectOk(await loadWith({ 'customers/acme.yml': acme().replace('  dir: /opt/acme/frappe_docker', '  dir: &d /opt/acme/frappe_docker') + 'backup:\n  keep: 2\n' }));
  });
  it('oversized files', async () => {
    expectOneError(await loadWith({ 'customers/acme.yml': acme() + '#'.repeat(70 * 1024) + '\n' }), 'customers/acme.yml', 1, 'file is 71 KiB; fleet files may be at most 64 KiB');
  });
  it('several YAML documents in one file', async () => {
    expectOneError(await loadWith({ 'customers/acme.yml': acme() + '---\nring: broad\n' }), 'customers/acme.yml', 10, /^file holds more than one YAML document/);
  });
  it('unknown YAML tags', async () => {
    expectOneError(await loadWith(withAcmeLine(9, '  tag: !vault v1')), 'customers/acme.yml', 9, /^YAML syntax: .*!vault/);
  });
  it('collects every problem, not the first', async () => {
    const r = await loadWith({
      'customers/acme.yml': replaceLine(replaceLine(acme(), 9, '  tag: bad;tag'), 7, '  dir: relative'),
      'customers/globex.yml': '',
      'rings/broad.yml': 'order: x\nconcurrency: 0\nfailureBudget: 2\nbakeTime: soon\n',
    });
    expect(errorsOf(r).map((e) => `${e.file}:${e.line}`)).toEqual([
      'customers/acme.yml:7', 'customers/acme.yml:9', 'customers/globex.yml:1', 'rings/broad.yml:1', 'rings/broad.yml:2', 'rings/broad.yml:4',
    ]);
  });
});

describe('files and layout', () => {
  it('customer file names must be valid ids', async () => {
    expectOneError(await loadWith({ 'customers/Acme_GmbH.yml': acme() }), 'customers/Acme_GmbH.yml', 1,
      "'Acme_GmbH' is not a valid customer name (lower-case letters, digits and '-', starting with a letter or digit; at most 63 characters); rename the file to customers/acme-gmbh.yml");
  });
  it('.yml/.yaml twins are one id defined twice', async () => {
    expectOneError(await loadWith({ 'customers/acme.yaml': acme() }), 'customers/acme.yml', 1, "customer 'acme' is defined twice: here and in customers/acme.yaml; keep one file");
  });
  it('nested customer files are an error', async () => {
    expectOneError(await loadWith({ 'customers/eu/initech.yml': acme() }), 'customers/eu/initech.yml', 1, /^customer files must be directly in customers\//);
  });
  it('ignores dotfiles, READMEs and other directories; warns about stray files', async () => {
    const r = await loadWith({ '.github/workflows/x.yml': 'x', 'README.md': '#', 'customers/.acme.yml.swp': 'x', 'schemas/customer.schema.json': '{}', 'customers/notes.txt': 'x', 'default.yml': 'x: 1' });
    expectOk(r);
    expect(r.warnings.map((w) => `${w.file}: ${w.message}`)).toEqual([
      "customers/notes.txt: not a .yml file, ignored",
      "default.yml: not a fleet file, ignored (a fleet has defaults.yml, rings/ and customers/) — did you mean 'defaults.yml'?",
    ]);
  });
  it('a fleet without rings is an error; without customers a warning', async () => {
    expectOneError(await loadWith({ 'rings/canary.yml': null, 'rings/broad.yml': null }), 'rings/', 1, /^the fleet has no rings/);
    const r = await loadWith({ 'customers/acme.yml': null, 'customers/globex.yml': null });
    expectOk(r);
    expect(r.warnings.map((w) => w.message)).toContain('the fleet has no customers yet (add customers/<id>.yml)');
  });
  it('defaults.yml is optional when customers say everything', async () => {
    const withUser = (t: string) => t.replace('ssh:\n', 'ssh:\n  user: root\n');
    expectOk(await loadWith({ 'defaults.yml': null, 'customers/acme.yml': withUser(acme()), 'customers/globex.yml': withUser(baseFleet()['customers/globex.yml']!) }));
  });
});

describe('defaults and resolution', () => {
  it('a field no file sets is reported on the customer', async () => {
    expectOneError(await loadWith({ 'defaults.yml': 'image:\n  repository: frappe/erpnext\n', 'customers/globex.yml': baseFleet()['customers/globex.yml']!.replace('ssh:\n', 'ssh:\n  user: root\n') }),
      'customers/acme.yml', 3, 'ssh.user is not set, neither here nor in defaults.yml', 'ssh.user');
  });
  it('a missing tag is reported at the image block', async () => {
    expectOneError(await loadWith(withAcmeLine(9, '  repository: frappe/erpnext')), 'customers/acme.yml', 8, 'image.tag is not set, neither here nor in defaults.yml');
  });
  it('a tag in defaults.yml is inherited', async () => {
    const r = await loadWith({ 'defaults.yml': 'ssh:\n  user: deploy\nimage:\n  tag: v15.38.0\n', 'customers/acme.yml': replaceLine(replaceLine(acme(), 9, ''), 8, '') });
    expectOk(r);
    if (r.ok) expect(r.fleet.customers.acme!.image).toEqual({ repository: 'frappe/erpnext', tag: 'v15.38.0' });
  });
  it('per-customer fields cannot be defaults', async () => {
    expectOneError(await loadWith({ 'defaults.yml': 'ssh:\n  user: deploy\n  hostKey: ' + KEY_A + '\n' }), 'defaults.yml', 3,
      "'ssh.hostKey' cannot be set in defaults.yml: each host has its own key; set it in the customer file", 'ssh.hostKey');
    expectOneError(await loadWith({ 'defaults.yml': 'ring: broad\nssh:\n  user: deploy\n' }), 'defaults.yml', 1, /^'ring' cannot be set in defaults\.yml/);
  });
  it('errors in defaults.yml point at defaults.yml', async () => {
    expectOneError(await loadWith({ 'defaults.yml': 'ssh:\n  user: deploy\nbackup:\n  keep: 0\n' }), 'defaults.yml', 4, '0 is too small (at least 1)', 'backup.keep');
  });
  it('required customer fields', async () => {
    expectOneError(await loadWith(withAcmeLine(5, '')), 'customers/acme.yml', 3, /^missing required field 'hostKey': Pinned SSH host key fingerprint/, 'ssh');
    expectOneError(await loadWith(withAcmeLine(2, '')), 'customers/acme.yml', 3, "missing required field 'ring': Rollout ring this customer belongs to: the name of a file in rings/ without extension (e.g. canary, early, broad).", '');
  });
});

describe('hold, maintenance window, time zone', () => {
  it('accepts a hold with a future date; warns when it has ended', async () => {
    expectOk(await loadWith(withAcmeExtra('hold:\n  reason: year-end closing\n  until: "2026-12-31"\n')));
    const r = await loadWith(withAcmeExtra('hold:\n  reason: year-end closing\n  until: "2026-01-31"\n'));
    expectOk(r);
    expect(r.warnings).toEqual([expect.objectContaining({ file: 'customers/acme.yml', line: 12, path: 'hold.until', severity: 'warning', message: 'the hold ended on 2026-01-31; it still applies until you remove the hold block' })]);
  });
  it('rejects a hold date that does not exist, and a hold without reason', async () => {
    expectOneError(await loadWith(withAcmeExtra('hold:\n  reason: x\n  until: 2026-02-30\n')), 'customers/acme.yml', 12, "'2026-02-30' is not a real calendar date", 'hold.until');
    expectOneError(await loadWith(withAcmeExtra('hold:\n  reason: x\n  until: 31.12.2026\n')), 'customers/acme.yml', 12, "'31.12.2026' is not a valid date (expected YYYY-MM-DD, e.g. 2026-01-31)");
    expectOneError(await loadWith(withAcmeExtra('hold:\n  until: 2026-12-30\n')), 'customers/acme.yml', 10, /^missing required field 'reason'/, 'hold');
  });
  const win = (tz: string, days = '[sat, sun]', start = '"22:00"', end = '"04:00"') => withAcmeExtra(`maintenanceWindow:\n  days: ${days}\n  start: ${start}\n  end: ${end}\n  timezone: ${tz}\n`);
  it('accepts real IANA zones', async () => {
    for (const tz of ['Europe/Berlin', 'Asia/Tokyo', 'America/Indiana/Indianapolis', 'UTC']) expectOk(await loadWith(win(tz)));
  });
  it('rejects unknown zones with a suggestion', async () => {
    expectOneError(await loadWith(win('Europe/Berlln')), 'customers/acme.yml', 14, "'Europe/Berlln' is not a known IANA time zone — did you mean 'Europe/Berlin'?", 'maintenanceWindow.timezone');
    expectOneError(await loadWith(win('CEST')), 'customers/acme.yml', 14, /^'CEST' is not a known IANA time zone/);
    expectOneError(await loadWith(win('europe/berlin')), 'customers/acme.yml', 14, "write the time zone as 'Europe/Berlin'");
  });
  it('rejects bad days and times', async () => {
    expectOneError(await loadWith(win('UTC', '[Saturday]')), 'customers/acme.yml', 11, "'Saturday' is not one of mon, tue, wed, thu, fri, sat, sun", 'maintenanceWindow.days[0]');
    expectOneError(await loadWith(win('UTC', '[sat]', '"24:00"')), 'customers/acme.yml', 12, "'24:00' is not a valid time (expected HH:MM in 24-hour form, e.g. 22:30)");
    expectOneError(await loadWith(win('UTC', '[sat]', '"22:00"', '"22:00"')), 'customers/acme.yml', 13, 'end is the same as start (22:00); the window would be empty');
    expectOneError(await loadWith(win('UTC', '[]')), 'customers/acme.yml', 11, 'needs at least 1 entry');
  });
  it('reads an unquoted 22:00 as text (YAML 1.2 has no sexagesimal numbers)', async () => {
    expectOk(await loadWith(win('UTC', '[sat]', '22:00', '04:00')));
  });
});

describe('rings', () => {
  const ring = (order: number, next?: string, extra = '') => `order: ${order}\nconcurrency: 1\nfailureBudget: 0\nbakeTime: 30m\n${next ? `next: ${next}\n` : ''}${extra}`;
  it('parses bake times', async () => {
    const r = await loadWith({ 'rings/canary.yml': ring(1, 'broad').replace('30m', '1h30m') });
    expectOk(r);
    if (r.ok) expect(r.fleet.rings.canary!.bakeSeconds).toBe(5400);
    expectOneError(await loadWith({ 'rings/canary.yml': ring(1, 'broad').replace('30m', '90 minutes') }), 'rings/canary.yml', 4, "'90 minutes' is not a valid duration (a number with units d, h, m, s in that order, e.g. 30m, 2h, 1h30m, 1d)", 'bakeTime');
    expectOneError(await loadWith({ 'rings/canary.yml': ring(1, 'broad').replace('30m', '30') }), 'rings/canary.yml', 4, "'30' is not a valid duration (a number with units d, h, m, s in that order, e.g. 30m, 2h, 1h30m, 1d)");
  });
  it('a customer in a ring that does not exist', async () => {
    expectOneError(await loadWith(withAcmeLine(2, 'ring: canery')), 'customers/acme.yml', 2, "ring 'canery' does not exist (rings: canary, broad) — did you mean 'canary'?", 'ring');
  });
  it('ring orders are unique', async () => {
    expectOneError(await loadWith({ 'rings/canary.yml': ring(2, 'broad') }), 'rings/canary.yml', 1, 'order 2 is also used by rings/broad.yml; each ring needs its own order', 'order');
  });
  it('next must exist', async () => {
    expectOneError(await loadWith({ 'rings/canary.yml': ring(1, 'brod') }), 'rings/canary.yml', 5, "ring 'brod' does not exist (no rings/brod.yml) — did you mean 'broad'?", 'next');
  });
  it('next links form one chain in order', async () => {
    expectOneError(await loadWith({ 'rings/canary.yml': ring(1) }), 'rings/canary.yml', 1, "ring 'canary' has no `next`, but 'broad' (order 2) comes after it; add `next: broad`");
    expectOneError(await loadWith({ 'rings/broad.yml': ring(2, 'canary') }), 'rings/broad.yml', 5, "this is the last ring (highest order 2), so it cannot have a next ring; 'canary' would form a loop");
    expectOneError(await loadWith({ 'rings/canary.yml': ring(1, 'canary') }), 'rings/canary.yml', 5, "ring 'canary' cannot be its own next ring");
    expectOneError(await loadWith({ 'rings/early.yml': ring(2, 'broad'), 'rings/broad.yml': ring(3) }), 'rings/canary.yml', 5,
      "next is 'broad', but the ring after this one by order is 'early' (order 2); rings must form one chain in ascending order");
    const r = await loadWith({ 'rings/canary.yml': ring(1, 'early'), 'rings/early.yml': ring(5, 'broad'), 'rings/broad.yml': ring(10) });
    expectOk(r);
    if (r.ok) expect(r.fleet.ringOrder).toEqual(['canary', 'early', 'broad']);
    expect(r.warnings.map((w) => `${w.file}: ${w.message}`)).toEqual(["rings/early.yml: ring 'early' has no customers (add `ring: early` to a customer file)"]);
  });
});

describe('cross-customer rules', () => {
  it('two customers on the same host, port and directory', async () => {
    const copy = acme().replace('ring: canary', 'ring: broad');
    expectOneError(await loadWith({ 'customers/initech.yml': copy }), 'customers/initech.yml', 4, 'same host, port and compose.dir as customers/acme.yml; two customers cannot manage one Compose project', 'ssh.host');
    // host names compare case-insensitively
    expectOneError(await loadWith({ 'customers/initech.yml': copy.replace('erp.acme.example', 'ERP.Acme.example') }), 'customers/initech.yml', 4, /^same host, port and compose\.dir/);
  });
  it('same host and directory on another port is another machine', async () => {
    expectOk(await loadWith({ 'customers/initech.yml': acme().replace(`  hostKey: ${KEY_A}`, `  hostKey: ${KEY_A}\n  port: 2222`) }));
  });
  it('two Compose projects with the same name on one host', async () => {
    const other = acme().replace('/opt/acme/frappe_docker', '/srv/initech/frappe_docker');
    expectOneError(await loadWith({ 'customers/initech.yml': other }), 'customers/initech.yml', 7,
      "Compose project name 'frappe_docker' is also used on this host by customers/acme.yml; Compose would treat both as one project: set a distinct compose.project", 'compose.dir');
    expectOk(await loadWith({ 'customers/initech.yml': other.replace('  dir: /srv/initech/frappe_docker', '  dir: /srv/initech/frappe_docker\n  project: initech') }));
  });
  it('cross-file rules still run when a customer has other errors', async () => {
    const r = await loadWith({ 'customers/initech.yml': acme().replace('tag: v15.40.1', 'tag: "bad tag"') });
    expect(errorsOf(r).map((e) => `${e.file}:${e.line}`)).toEqual(['customers/initech.yml:4', 'customers/initech.yml:9']);
  });
});

describe('the example fleet', () => {
  it('is valid, with 2/4/6 customers over canary/early/broad', async () => {
    const { LocalDirSource, loadFleet } = await import('../../../src/fleet/index.js');
    const r = await loadFleet(new LocalDirSource(new URL('../../../fleet', import.meta.url).pathname));
    expectOk(r);
    if (!r.ok) return;
    expect(r.warnings).toEqual([]);
    const count = (ring: string) => Object.values(r.fleet.customers).filter((c) => c.ring === ring).length;
    expect([count('canary'), count('early'), count('broad')]).toEqual([2, 4, 6]);
    expect(new Set(Object.values(r.fleet.customers).filter((c) => c.ring === 'canary').map((c) => c.image.tag))).toEqual(new Set(['v15.40.1']));
    expect(new Set(Object.values(r.fleet.customers).filter((c) => c.ring !== 'canary').map((c) => c.image.tag))).toEqual(new Set(['v15.38.0']));
  });
});

describe('tag order across rings', () => {
  it('warns when a later ring runs a newer version than the earlier ones', async () => {
    const r = await loadWith({ 'customers/globex.yml': baseFleet()['customers/globex.yml']!.replace('v15.38.0', 'v15.41.0') });
    expectOk(r);
    expect(r.warnings.map((w) => `${w.file}:${w.line} ${w.path}: ${w.message}`)).toEqual([
      "customers/globex.yml:8 image.tag: v15.41.0 is newer than every tag in the earlier ring 'canary' (v15.40.1); new tags should go through the earlier rings first",
    ]);
  });
  it('is quiet when tags move in order, for held customers and for non-version tags', async () => {
    expect((await loadWith({})).warnings).toEqual([]);
    const held = baseFleet()['customers/globex.yml']!.replace('v15.38.0', 'v15.41.0') + 'hold:\n  reason: testing a hotfix build\n';
    expect((await loadWith({ 'customers/globex.yml': held })).warnings).toEqual([]);
    expect((await loadWith({ 'customers/globex.yml': baseFleet()['customers/globex.yml']!.replace('v15.38.0', 'nightly') })).warnings).toEqual([]);
  });
});
