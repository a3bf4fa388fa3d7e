import fs from 'fs';
import path from 'path';

// In-memory state of every instance, optionally persisted as one JSON file in
// the data directory (dev only: root key material is written in clear).

export const KEY_TYPE = 'application/vnd.ibm.kms.key+json';

/** Key states (shared/keyprotect-api.md). */
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

export interface Instance {
  id: string;
  keys: Map<string, KeyRecord>;
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
  instances: Record<string, PersistedKey[]>;
}

export class Store {
  readonly instances = new Map<string, Instance>();
  private readonly file?: string;
  private saveTimer?: NodeJS.Timeout;

  constructor(dataDir?: string) {
    if (dataDir) {
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      this.file = path.join(dataDir, 'keyprotect-emulator.json');
      this.load();
    }
  }

  /** Instances are created on first use, as if provisioned beforehand. */
  instance(id: string): Instance {
    let inst = this.instances.get(id);
    if (!inst) {
      inst = { id, keys: new Map() };
      this.instances.set(id, inst);
    }
    return inst;
  }

  /** Finds a key by id or alias (purged keys are gone). */
  find(inst: Instance, idOrAlias: string): KeyRecord | undefined {
    const byId = inst.keys.get(idOrAlias);
    if (byId) return byId;
    for (const k of inst.keys.values()) if (k.aliases.includes(idOrAlias)) return k;
    return undefined;
  }

  /** Schedules a write of the whole state (coalesced; no-op without a data dir). */
  changed(): void {
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 25);
    this.saveTimer.unref();
  }

  /** Writes pending changes now (on close). */
  flush(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.save();
    }
  }

  private save(): void {
    if (!this.file) return;
    const state: PersistedState = { format: 1, instances: {} };
    for (const [id, inst] of this.instances) {
      state.instances[id] = [...inst.keys.values()].map((k) => ({
        ...k,
        payload: k.payload?.toString('base64'),
        versions: k.versions.map((v) => ({ ...v, material: v.material.toString('base64') })),
      }));
    }
    // Write then rename, so a crash never leaves half a file.
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  private load(): void {
    if (!this.file || !fs.existsSync(this.file)) return;
    const state = JSON.parse(fs.readFileSync(this.file, 'utf8')) as PersistedState;
    if (state.format !== 1) throw new Error(`${this.file}: unknown state format ${String(state.format)}`);
    for (const [id, keys] of Object.entries(state.instances)) {
      const inst = this.instance(id);
      for (const k of keys) {
        inst.keys.set(k.id, {
          ...k,
          payload: k.payload === undefined ? undefined : Buffer.from(k.payload, 'base64'),
          versions: k.versions.map((v) => ({ ...v, material: Buffer.from(v.material, 'base64') })),
        });
      }
    }
  }
}
