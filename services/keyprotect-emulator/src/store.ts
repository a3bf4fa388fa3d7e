import fs from 'fs';
import path from 'path';

// In-memory state of every instance, optionally persisted in the data
// directory as a snapshot plus a journal of changed keys (dev only: root key
// material is written in clear).

export const KEY_TYPE = 'application/vnd.ibm.kms.key+json';

/** Key states (docs/keyprotect-api.md, "Keys"). */
export const State = { PreActive: 0, Active: 1, Suspended: 2, Deactivated: 3, Destroyed: 5 } as const;

/** How long a deleted key can be restored. */
export const RESTORE_WINDOW_MS = 30 * 24 * 3600_000;

export interface KeyVersion {
  id: string;
  material: Buffer;
  creationDate: string;
}

export interface KeyRecord {
  id: string;
  name: string;
  description?: string;
  aliases: string[];
  /** false: root key (versions); true: standard key (payload). */
  extractable: boolean;
  state: number;
  payload?: Buffer;
  versions: KeyVersion[];
  imported: boolean;
  createdBy: string;
  creationDate: string;
  lastUpdateDate: string;
  lastRotateDate?: string;
  expirationDate?: string;
  deleted: boolean;
  deletedBy?: string;
  deletionDate?: string;
  /** Epoch ms of the last state-changing action (REQ_TOO_EARLY_ERR). */
  lastActionAt: number;
}

/** The keyCreateImportAccess instance policy (settings-key-create-import-access.md); absent or disabled: everything allowed. */
export interface KeyCreateImportAccess {
  enabled: boolean;
  create_root_key: boolean;
  create_standard_key: boolean;
  import_root_key: boolean;
  import_standard_key: boolean;
  /** Imports must use secure import (an import token), which the emulator does not offer. */
  enforce_token: boolean;
}

export interface Instance {
  id: string;
  keys: Map<string, KeyRecord>;
  policy?: KeyCreateImportAccess;
}

export function rfc3339(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The key as the API renders it; payload only where the caller asks for it. */
export function renderKey(instance: string, k: KeyRecord, withPayload = false): Record<string, unknown> {
  const latest = k.versions[k.versions.length - 1];
  const out: Record<string, unknown> = {
    type: KEY_TYPE,
    id: k.id,
    name: k.name,
    ...(k.description !== undefined ? { description: k.description } : {}),
    ...(k.aliases.length ? { aliases: k.aliases } : {}),
    algorithmType: 'AES',
    algorithmBitSize: k.extractable ? (k.payload?.length ?? 32) * 8 : (latest?.material.length ?? 32) * 8,
    state: effectiveState(k),
    extractable: k.extractable,
    crn: `crn:v1:bluemix:public:kms:local:a/keywarden-emulator:${instance}:key:${k.id}`,
    createdBy: k.createdBy,
    creationDate: k.creationDate,
    lastUpdateDate: k.lastUpdateDate,
    ...(k.lastRotateDate ? { lastRotateDate: k.lastRotateDate } : {}),
    ...(latest ? { keyVersion: { id: latest.id, creationDate: latest.creationDate } } : {}),
    keyRingID: 'default',
    ...(k.expirationDate ? { expirationDate: k.expirationDate } : {}),
    imported: k.imported,
    deleted: k.deleted,
    ...(k.deleted ? {
      deletedBy: k.deletedBy,
      deletionDate: k.deletionDate,
      purgeAllowed: true,
      purgeAllowedFrom: k.deletionDate,
      purgeScheduledOn: rfc3339(Date.parse(k.deletionDate ?? rfc3339()) + 90 * 24 * 3600_000),
    } : {}),
    dualAuthDelete: { enabled: false },
    ...(k.extractable ? {} : { rotation: { enabled: false } }),
  };
  if (withPayload && k.extractable && k.payload) out.payload = k.payload.toString('base64');
  return out;
}

/** Active keys past their expiration date read as deactivated. */
export function effectiveState(k: KeyRecord): number {
  if (k.state === State.Active && k.expirationDate && Date.parse(k.expirationDate) <= Date.now()) return State.Deactivated;
  return k.state;
}

interface PersistedKey extends Omit<KeyRecord, 'payload' | 'versions'> {
  payload?: string;
  versions: Array<{ id: string; material: string; creationDate: string }>;
}

interface PersistedState {
  format: 1;
  /** Generation of the journal that continues this snapshot. */
  journal?: number;
  /** Every instance, with its keys (an instance without keys has an empty list). */
  instances: Record<string, PersistedKey[]>;
  policies?: Record<string, KeyCreateImportAccess>;
}

/**
 * The journal's first line names the snapshot generation it continues; then
 * one line per change: a key as it is now, a purged key, a created instance
 * or an instance's policy.
 */
type JournalHeader = { gen: number };
type JournalEntry =
  | { i: string; k: PersistedKey }
  | { i: string; purged: string }
  | { i: string; created: true }
  | { i: string; policy: KeyCreateImportAccess };

function persisted(k: KeyRecord): PersistedKey {
  return {
    ...k,
    payload: k.payload?.toString('base64'),
    versions: k.versions.map((v) => ({ ...v, material: v.material.toString('base64') })),
  };
}

function restored(k: PersistedKey): KeyRecord {
  return {
    ...k,
    payload: k.payload === undefined ? undefined : Buffer.from(k.payload, 'base64'),
    versions: k.versions.map((v) => ({ ...v, material: Buffer.from(v.material, 'base64') })),
  };
}

/** Journal lines tolerated before it is folded into the snapshot (more when there are many keys). */
const MIN_COMPACT_LINES = 10_000;

/**
 * Persistence: a snapshot (keyprotect-emulator.json, the whole state) plus a
 * journal (keyprotect-emulator.journal, one JSON line per changed or purged
 * key). A change appends only the keys it touched, so its cost does not grow
 * with the number of keys; the journal is folded into the snapshot once it
 * outgrows the live state, at start and on close.
 */
export class Store {
  readonly instances = new Map<string, Instance>();
  private readonly file?: string;
  private readonly journal?: string;
  /** Generation of the current snapshot and journal. */
  private gen = 0;
  private journalLines = 0;
  /** Keys changed since the last write, by instance and key id. */
  private readonly dirty = new Map<Instance, Set<string>>();
  /** Instances created, or whose policy changed, since the last write. */
  private readonly dirtyInstances = new Set<Instance>();
  private saveTimer?: NodeJS.Timeout;

  constructor(dataDir?: string) {
    if (dataDir) {
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      this.file = path.join(dataDir, 'keyprotect-emulator.json');
      this.journal = path.join(dataDir, 'keyprotect-emulator.journal');
      this.load();
    }
  }

  /** An instance the emulator was told to create (options, --instance, /_emulator/instances); undefined otherwise. */
  instance(id: string): Instance | undefined {
    return this.instances.get(id);
  }

  /** Provisions an instance (idempotent), as creating a service instance in IBM Cloud does. */
  createInstance(id: string): Instance {
    let inst = this.instances.get(id);
    if (!inst) {
      inst = { id, keys: new Map() };
      this.instances.set(id, inst);
      this.instanceChanged(inst);
    }
    return inst;
  }

  /** Sets or clears an instance's keyCreateImportAccess policy. */
  setPolicy(inst: Instance, policy: KeyCreateImportAccess | undefined): void {
    inst.policy = policy;
    this.instanceChanged(inst);
  }

  /** Finds a key by id or alias (purged keys are gone). */
  find(inst: Instance, idOrAlias: string): KeyRecord | undefined {
    const byId = inst.keys.get(idOrAlias);
    if (byId) return byId;
    for (const k of inst.keys.values()) if (k.aliases.includes(idOrAlias)) return k;
    return undefined;
  }

  /**
   * Records that key `id` of `inst` was created, changed or (no longer in the
   * instance) purged, and schedules a write (coalesced; no-op without a data dir).
   */
  changed(inst: Instance, id: string): void {
    if (!this.file) return;
    let ids = this.dirty.get(inst);
    if (!ids) {
      ids = new Set();
      this.dirty.set(inst, ids);
    }
    ids.add(id);
    this.schedule();
  }

  private instanceChanged(inst: Instance): void {
    if (!this.file) return;
    this.dirtyInstances.add(inst);
    this.schedule();
  }

  private schedule(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.write();
    }, 25);
    this.saveTimer.unref();
  }

  /** Writes pending changes now, folding the journal into the snapshot (on close). */
  flush(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    if (this.dirty.size > 0 || this.dirtyInstances.size > 0 || this.journalLines > 0) this.snapshot();
  }

  private write(): void {
    if (!this.journal) return;
    let keys = 0;
    for (const inst of this.instances.values()) keys += inst.keys.size;
    if (this.journalLines > Math.max(MIN_COMPACT_LINES, 2 * keys)) {
      this.snapshot();
      return;
    }
    const lines: string[] = [];
    if (this.journalLines === 0) lines.push(JSON.stringify({ gen: this.gen } satisfies JournalHeader));
    for (const inst of this.dirtyInstances) {
      lines.push(JSON.stringify({ i: inst.id, created: true } satisfies JournalEntry));
      if (inst.policy) lines.push(JSON.stringify({ i: inst.id, policy: inst.policy } satisfies JournalEntry));
    }
    this.dirtyInstances.clear();
    for (const [inst, ids] of this.dirty) {
      for (const id of ids) {
        const k = inst.keys.get(id);
        lines.push(JSON.stringify((k ? { i: inst.id, k: persisted(k) } : { i: inst.id, purged: id }) satisfies JournalEntry));
      }
    }
    this.dirty.clear();
    fs.appendFileSync(this.journal, lines.join('\n') + '\n', { mode: 0o600 });
    this.journalLines += lines.length;
  }

  /**
   * The whole state to a new snapshot of the next generation (write then
   * rename, so a crash never leaves half a file), then the old journal goes.
   * A journal left by a crash in between names the older generation and is
   * ignored at load.
   */
  private snapshot(): void {
    if (!this.file || !this.journal) return;
    const gen = this.gen + 1;
    const state: PersistedState = { format: 1, journal: gen, instances: {}, policies: {} };
    for (const [id, inst] of this.instances) {
      state.instances[id] = [...inst.keys.values()].map(persisted);
      if (inst.policy && state.policies) state.policies[id] = inst.policy;
    }
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    fs.rmSync(this.journal, { force: true });
    this.gen = gen;
    this.dirty.clear();
    this.dirtyInstances.clear();
    this.journalLines = 0;
  }

  private load(): void {
    if (!this.file || !this.journal) return;
    if (fs.existsSync(this.file)) {
      const state = JSON.parse(fs.readFileSync(this.file, 'utf8')) as PersistedState;
      if (state.format !== 1) throw new Error(`${this.file}: unknown state format ${String(state.format)}`);
      this.gen = state.journal ?? 0;
      for (const [id, keys] of Object.entries(state.instances)) {
        const inst = this.loaded(id);
        for (const k of keys) inst.keys.set(k.id, restored(k));
      }
      for (const [id, policy] of Object.entries(state.policies ?? {})) this.loaded(id).policy = policy;
    }
    if (!fs.existsSync(this.journal)) return;
    const lines = fs.readFileSync(this.journal, 'utf8').split('\n');
    try {
      if ((JSON.parse(lines[0]) as JournalHeader).gen === this.gen) {
        for (const line of lines.slice(1)) {
          if (!line) continue;
          const e = JSON.parse(line) as JournalEntry;
          const inst = this.loaded(e.i);
          if ('purged' in e) inst.keys.delete(e.purged);
          else if ('k' in e) inst.keys.set(e.k.id, restored(e.k));
          else if ('policy' in e) inst.policy = e.policy;
        }
      }
    } catch {
      // A line cut short by a crash ends the journal: nothing after it was written.
    }
    // Start from a clean snapshot, so no later line follows a broken one.
    this.journalLines = 1;
    this.snapshot();
  }

  /** An instance read from the data files (it existed when they were written). */
  private loaded(id: string): Instance {
    let inst = this.instances.get(id);
    if (!inst) {
      inst = { id, keys: new Map() };
      this.instances.set(id, inst);
    }
    return inst;
  }
}
