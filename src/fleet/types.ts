// Resolved fleet model: what the loader produces after schema validation and
// defaults. Everything downstream (plan, apply, reports) reads only these
// types, never raw YAML, so a value that did not pass the schema cannot reach
// a shell.

/** Where a value came from, for error messages and check-run annotations. */
export interface SourcePos {
  file: string; // path relative to the fleet root, e.g. "customers/acme.yml"
  line: number; // 1-based
  column: number; // 1-based
}

export interface MaintenanceWindow {
  /** Days of week the window may start on, lower-case three letters. */
  days: Array<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun'>;
  start: string; // "HH:MM"
  end: string; // "HH:MM"; may be before start (window crosses midnight)
  timezone: string; // IANA name
}

export interface BackupPolicy {
  /** Absolute directory on the host where verified backups are copied off the volume. */
  dir: string;
  /** How many verified backups to keep per site in `dir`. */
  keep: number;
  withFiles: boolean;
  /** A new database dump smaller than ratio × previous is rejected. */
  minSizeRatio: number;
}

export interface HealthPolicy {
  /** Base URL of the frontend as seen from the host, e.g. http://127.0.0.1:8080 */
  url: string;
  /** How many consecutive successful probes make the host healthy. */
  attempts: number;
  intervalSeconds: number;
  timeoutSeconds: number;
}

export interface Timeouts {
  connectSeconds: number;
  commandSeconds: number;
  pullSeconds: number;
  migrateSeconds: number;
  backupSeconds: number;
}

export interface Customer {
  /** File name without extension; unique. */
  id: string;
  /** Relative path of the customer file, e.g. "customers/acme.yml". */
  file: string;
  displayName?: string;
  ring: string;
  ssh: {
    host: string; // DNS name or IP literal
    port: number;
    user: string;
    /** Pinned host key fingerprint, OpenSSH style: "SHA256:" + unpadded base64. */
    hostKey: string;
  };
  compose: {
    dir: string; // absolute
    /** Compose project name; undefined = Compose's default (dir basename). */
    project?: string;
    /** Compose files relative to dir; empty = Compose's default lookup. */
    files: string[];
  };
  /** Frappe site names, or "all". */
  sites: string[] | 'all';
  image: {
    repository: string; // e.g. "frappe/erpnext" or "registry.example.com/erpnext"
    tag: string; // validated tag or "sha256:<64 hex>" digest
  };
  /** A held customer is never changed by a rollout or promotion. */
  hold?: { reason: string; until?: string };
  maintenanceWindow?: MaintenanceWindow;
  backup: BackupPolicy;
  health: HealthPolicy;
  preflight: { minFreeDiskMb: number };
  timeouts: Timeouts;
}

export interface Ring {
  name: string; // file name without extension
  file: string; // "rings/canary.yml"
  order: number; // unique; rings run in ascending order
  concurrency: number; // hosts at a time within the ring
  /** Failed hosts tolerated over the whole rollout of this ring before it stops. */
  failureBudget: number;
  /** Seconds the ring must stay healthy after it completes before promotion. */
  bakeSeconds: number;
  next?: string; // name of the next ring
  autoPromote: boolean;
}

export interface Fleet {
  /** Customers by id. */
  customers: Record<string, Customer>;
  /** Rings by name. */
  rings: Record<string, Ring>;
  /** Ring names in rollout order. */
  ringOrder: string[];
  /** Position of every field, keyed by `${file}#${jsonPointer}`, for annotations. */
  positions: Record<string, SourcePos>;
}

/** A problem found in the fleet files. Never thrown raw: always collected. */
export interface FleetError {
  file: string;
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
  /** Field path in the document, dotted, e.g. "image.tag"; "" for the whole file. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export type LoadResult =
  | { ok: true; fleet: Fleet; warnings: FleetError[] }
  | { ok: false; errors: FleetError[]; warnings: FleetError[] };

/** Anything that can list and read the files of a fleet repo at one version. */
export interface FleetSource {
  /** Human description, e.g. "fleet/ (local)" or "owner/repo@abc1234". */
  readonly label: string;
  /** All file paths relative to the fleet root, "/"-separated. */
  list(): Promise<string[]>;
  read(path: string): Promise<Uint8Array>;
}

export type CustomerChangeKind = 'added' | 'removed' | 'changed';

export interface CustomerChange {
  id: string;
  kind: CustomerChangeKind;
  before?: Customer;
  after?: Customer;
  /** Tag moves from → to (same when only other fields changed). */
  tag?: { from?: string; to?: string };
  /** Dotted paths of fields that changed (e.g. "ssh.host", "image.tag"). */
  fields: string[];
}

export interface FleetDiff {
  changes: CustomerChange[];
  /** Rings whose own files changed. */
  ringsChanged: string[];
}
