// What the region's Redis holds, for Prometheus (docs/key-lifecycle.md,
// "Quotas"; the alerts in deploy/monitoring fire at 80 %): each tenant's
// usage next to its quotas, and Redis' used memory next to maxmemory (no
// Redis exporter is deployed). Read from Redis at most every `everyMs`
// (every replica exports the same values: aggregate with max by tenant),
// never per write.
import { prom } from '@keywarden/common';
import type { Logger } from '@keywarden/common';
import type { Store } from './store';

interface Snapshot {
  tenants: Array<{ id: string; objects: number; objectsQuota: number; attributeBytes: number; attributeBytesQuota: number; destroyed: number }>;
  memory: Array<{ node: string; used: number; max: number }>;
}

/** Reads what the gauges report, at most once per `everyMs`. */
export class CapacityProbe {
  private last?: { at: number; snap: Promise<Snapshot> };

  constructor(private readonly store: Store, private readonly log: Logger, private readonly everyMs = 15_000) {}

  snapshot(): Promise<Snapshot> {
    const now = Date.now();
    if (!this.last || now - this.last.at >= this.everyMs) {
      const snap = this.read().catch((err: unknown) => {
        this.log.warn({ err }, 'cannot read tenant usage or Redis memory for the metrics');
        return { tenants: [], memory: [] };
      });
      this.last = { at: now, snap };
    }
    return this.last.snap;
  }

  private async read(): Promise<Snapshot> {
    const tenants: Snapshot['tenants'] = [];
    for (const id of await this.store.tenantIds()) {
      const [t, u] = await Promise.all([this.store.getTenant(id), this.store.usage(id)]);
      if (!t || t.status !== 'active') continue;
      const q = this.store.quotaOf(t);
      tenants.push({ id, objects: u.objects, objectsQuota: q.objects, attributeBytes: u.attributeBytes, attributeBytesQuota: q.attributeBytes, destroyed: u.destroyedObjects });
    }
    return { tenants, memory: await this.store.memory() };
  }
}

interface Spec<T> {
  name: string;
  help: string;
  pick(x: T): number;
}

type TenantRow = Snapshot['tenants'][number];
type NodeRow = Snapshot['memory'][number];

const TENANT_GAUGES: Array<Spec<TenantRow>> = [
  { name: 'keywarden_lifecycle_tenant_objects', help: 'Objects of the tenant that are not destroyed (counted against its objects quota)', pick: (t) => t.objects },
  { name: 'keywarden_lifecycle_tenant_objects_quota', help: "The tenant's objects quota", pick: (t) => t.objectsQuota },
  { name: 'keywarden_lifecycle_tenant_attribute_bytes', help: "Bytes of client-managed attributes of the tenant's objects", pick: (t) => t.attributeBytes },
  { name: 'keywarden_lifecycle_tenant_attribute_bytes_quota', help: "The tenant's attribute bytes quota", pick: (t) => t.attributeBytesQuota },
  { name: 'keywarden_lifecycle_tenant_destroyed_objects', help: 'Destroyed objects of the tenant whose records are kept', pick: (t) => t.destroyed },
];

const NODE_GAUGES: Array<Spec<NodeRow>> = [
  { name: 'keywarden_lifecycle_redis_used_memory_bytes', help: 'Memory Redis uses (INFO memory used_memory), per primary', pick: (m) => m.used },
  { name: 'keywarden_lifecycle_redis_maxmemory_bytes', help: 'Redis maxmemory, per primary (0 = no limit)', pick: (m) => m.max },
];

export function registerCapacityMetrics(registry: prom.Registry, probe: CapacityProbe): void {
  for (const g of TENANT_GAUGES) {
    new prom.Gauge({
      name: g.name, help: g.help, labelNames: ['tenant'], registers: [registry],
      async collect() {
        this.reset();
        for (const t of (await probe.snapshot()).tenants) this.set({ tenant: t.id }, g.pick(t));
      },
    });
  }
  for (const g of NODE_GAUGES) {
    new prom.Gauge({
      name: g.name, help: g.help, labelNames: ['node'], registers: [registry],
      async collect() {
        this.reset();
        for (const m of (await probe.snapshot()).memory) this.set({ node: m.node }, g.pick(m));
      },
    });
  }
}
