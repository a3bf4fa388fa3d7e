// Static checks of deploy/: no cluster, Docker engine or kustomize binary runs
// here, so every overlay is built with test/deploy/kustomize.ts and checked
// against itself (references, selectors, ports) and against the services'
// sources (environment variables, ports, metric names).
import fs from 'fs';
import path from 'path';
import { build, Build, containersOf, K8s, podTemplate, readYaml } from './kustomize';

const ROOT = path.resolve(__dirname, '../..');
const DEPLOY = path.join(ROOT, 'deploy');
const K8S = path.join(DEPLOY, 'k8s');
const SERVICES = ['kmip-gateway', 'key-lifecycle', 'crk-wrapping'] as const;
type Svc = (typeof SERVICES)[number];
/** The operators' web console: one more image and Deployment, checked on its own (docs/console.md). */
const CONSOLE = 'admin-console';
const OVERLAYS = fs.readdirSync(path.join(K8S, 'overlays')).sort();

/**
 * Objects the operator creates before applying an overlay (docs/deployment.md,
 * "Secrets"; the console's in docs/console.md), with the keys the manifests
 * read. Nothing else may be referenced without being defined in the build.
 */
const OPERATOR_SECRETS: Record<string, { keys: string[]; optional?: boolean; doc?: string }> = {
  'keywarden-kmip-server-tls': { keys: ['tls.crt', 'tls.key'] },
  'keywarden-kmip-gateway-tls': { keys: ['ca.crt', 'tls.crt', 'tls.key'] },
  'keywarden-key-lifecycle-tls': { keys: ['ca.crt', 'tls.crt', 'tls.key'] },
  'keywarden-crk-wrapping-tls': { keys: ['ca.crt', 'tls.crt', 'tls.key'] },
  'keywarden-master-key': { keys: ['master.key'] },
  'keywarden-redis-auth': { keys: ['password'] },
  'keywarden-provider-credentials': { keys: [], optional: true },
  'keywarden-admin-console-tls': { keys: ['ca.crt', 'tls.crt', 'tls.key'], doc: 'docs/console.md' },
  'keywarden-admin-console-https': { keys: ['tls.crt', 'tls.key'], doc: 'docs/console.md' },
};

/** Label selectors that legitimately match pods outside the build (other namespaces). */
const EXTERNAL_PEERS: { podSelector?: Record<string, string>; namespaceSelector?: Record<string, string> }[] = [
  { podSelector: { 'k8s-app': 'kube-dns' } },
  { podSelector: { 'keywarden.io/admin-client': 'true' } },
  { podSelector: { 'keywarden.io/console-client': 'true' } },
  { namespaceSelector: { 'kubernetes.io/metadata.name': 'monitoring' } },
];

/** Variables read by Node itself, not by keywarden code. */
const NODE_ENV_VARS = new Set(['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS']);

// ---------------------------------------------------------------- sources

function walk(dir: string, ext: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : walk(p, ext);
    return p.endsWith(ext) ? [p] : [];
  });
}

function sourceOf(svc: string): string {
  const files = [...walk(path.join(ROOT, 'services', svc, 'src'), '.ts'), ...walk(path.join(ROOT, 'libs/common/src'), '.ts')];
  return files.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

/** Environment variables a service's code reads (its own sources and libs/common). */
function envReadBy(svc: string): Set<string> {
  const src = sourceOf(svc);
  const names = new Set<string>();
  for (const re of [/\benv(?:String|Int|Bool|Optional)\(\s*'([A-Z0-9_]+)'/g, /process\.env\.([A-Z0-9_]+)/g, /process\.env\[\s*'([A-Z0-9_]+)'\s*\]/g]) {
    for (const m of src.matchAll(re)) names.add(m[1]);
  }
  return names;
}

/** Defaults written in a service's main.ts: envInt('X', 123 …) and envString('X', '…'). */
function mainDefaults(svc: string): Record<string, string> {
  const src = fs.readFileSync(path.join(ROOT, 'services', svc, 'src/main.ts'), 'utf8');
  const out: Record<string, string> = {};
  for (const m of src.matchAll(/envInt\('([A-Z0-9_]+)',\s*([\d_]+)/g)) out[m[1]] = m[2].replace(/_/g, '');
  for (const m of src.matchAll(/envString\('([A-Z0-9_]+)',\s*'([^']*)'/g)) out[m[1]] = m[2];
  return out;
}

/** Metric names registered in the services' sources, and Node's default metrics from prom-client. */
function knownMetrics(): { service: Set<string>; all: Set<string> } {
  const service = new Set<string>();
  for (const svc of SERVICES) {
    for (const f of walk(path.join(ROOT, 'services', svc, 'src'), '.ts')) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/name:\s*'([a-z_:][a-z0-9_:]*)'/g)) {
        if (/_/.test(m[1]) && /^(kmip_|keywarden_|crk_)/.test(m[1])) service.add(m[1]);
      }
    }
  }
  const all = new Set(service);
  const lib = path.join(path.dirname(require.resolve('prom-client/package.json')), 'lib/metrics');
  for (const f of fs.readdirSync(lib).filter((n) => n.endsWith('.js'))) {
    for (const m of fs.readFileSync(path.join(lib, f), 'utf8').matchAll(/'((?:process|nodejs)_[a-z0-9_]+)'/g)) all.add(m[1]);
  }
  all.add('up'); // written by Prometheus for every target
  return { service, all };
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'le']);

/** Metric names used by a PromQL expression. */
function promqlMetrics(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/'(?:[^'\\]|\\.)*'/g, "''");
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = s.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(rest) || PROMQL_WORDS.has(m[0])) continue;
    out.push(m[0]);
  }
  return out;
}

function isKnownMetric(name: string, known: Set<string>): boolean {
  return known.has(name) || known.has(name.replace(/_(bucket|sum|count)$/, ''));
}

// ---------------------------------------------------------------- helpers

function portOf(addr: string): number {
  const m = /:(\d+)$/.exec(addr);
  if (!m) throw new Error(`no port in ${addr}`);
  return Number(m[1]);
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

const workloads = (b: Build) => b.objects.filter((o) => podTemplate(o));
const byKind = (b: Build, kind: string) => b.objects.filter((o) => o.kind === kind);
const find = (b: Build, kind: string, name: string): K8s => {
  const o = b.objects.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`${kind}/${name} not in ${path.relative(ROOT, b.dir)}`);
  return o;
};
const podsMatching = (b: Build, selector: Record<string, string> | undefined) =>
  workloads(b).filter((w) => matches(selector, podTemplate(w).metadata?.labels));
const containerPorts = (w: K8s): K8s[] => containersOf(w).flatMap((c: K8s) => c.ports ?? []);

/** A probe or Service port (name or number) resolved against a container's ports. */
function resolvePort(ports: K8s[], p: string | number): number | undefined {
  if (typeof p === 'number') return ports.some((x) => x.containerPort === p) ? p : undefined;
  return ports.find((x) => x.name === p)?.containerPort;
}

/** The environment a container gets from its ConfigMaps (envFrom) and env entries with literal values. */
function envOf(b: Build, c: K8s): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ef of c.envFrom ?? []) {
    if (ef.configMapRef) Object.assign(env, find(b, 'ConfigMap', ef.configMapRef.name).data);
  }
  for (const e of c.env ?? []) env[e.name] = e.value ?? `<${Object.keys(e.valueFrom ?? {})[0]}>`;
  return env;
}

/** Files a container sees under a mount path: path -> { secret or configMap name, key }. */
function mountedFiles(w: K8s, c: K8s): Map<string, { kind: string; name: string; key: string; optional?: boolean }> {
  const out = new Map<string, { kind: string; name: string; key: string; optional?: boolean }>();
  const volumes = podTemplate(w).spec.volumes ?? [];
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.find((x: K8s) => x.name === m.name);
    if (!v) continue;
    const sources = v.projected ? v.projected.sources : [v.secret ? { secret: { ...v.secret, name: v.secret.secretName } } : v.configMap ? { configMap: v.configMap } : undefined];
    for (const s of sources.filter(Boolean)) {
      const kind = s.secret ? 'Secret' : 'ConfigMap';
      const src = s.secret ?? s.configMap;
      for (const it of src.items ?? []) out.set(`${m.mountPath}/${it.path}`, { kind, name: src.name, key: it.key, optional: src.optional });
      if (!src.items) out.set(`${m.mountPath}/*`, { kind, name: src.name, key: '*', optional: src.optional });
    }
  }
  return out;
}

function secretRefs(w: K8s): { name: string; key?: string; optional?: boolean }[] {
  const refs: { name: string; key?: string; optional?: boolean }[] = [];
  const spec = podTemplate(w).spec;
  for (const v of spec.volumes ?? []) {
    if (v.secret) refs.push(...(v.secret.items ?? [{}]).map((i: K8s) => ({ name: v.secret.secretName, key: i.key, optional: v.secret.optional })));
    for (const s of v.projected?.sources ?? []) {
      if (s.secret) refs.push(...(s.secret.items ?? [{}]).map((i: K8s) => ({ name: s.secret.name, key: i.key, optional: s.secret.optional })));
    }
  }
  for (const c of containersOf(w)) {
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) refs.push({ name: e.valueFrom.secretKeyRef.name, key: e.valueFrom.secretKeyRef.key });
    for (const ef of c.envFrom ?? []) if (ef.secretRef) refs.push({ name: ef.secretRef.name });
  }
  return refs;
}

function allStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => allStrings(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => allStrings(x, out));
  return out;
}

// ---------------------------------------------------------------- the checks

const builds = new Map<string, Build>(OVERLAYS.map((o) => [o, build(path.join(K8S, 'overlays', o))]));

describe('deploy/: every YAML file parses', () => {
  const files = walk(DEPLOY, '.yaml');
  it('finds the manifests', () => expect(files.length).toBeGreaterThan(10));
  it.each(files.map((f) => path.relative(ROOT, f)))('%s', (f) => {
    const docs = readYaml(path.join(ROOT, f));
    expect(docs.length).toBeGreaterThan(0);
    for (const d of docs) {
      if (f.includes('/k8s/') || f.endsWith('podmonitor.yaml')) expect(typeof d.kind).toBe('string');
    }
  });
});

describe('deploy/docker', () => {
  const dockerfile = fs.readFileSync(path.join(DEPLOY, 'docker/Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  // stage name -> its instructions (continuation lines joined)
  const stages = new Map<string, { from: string; body: string[] }>();
  let current: { from: string; body: string[] } | undefined;
  const args: Record<string, string> = {};
  let joined = '';
  for (const l of lines) {
    joined += l.replace(/\\$/, ' ');
    if (l.endsWith('\\')) continue;
    const ins = joined;
    joined = '';
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins);
    if (from) {
      current = { from: from[1].replace(/\$\{(\w+)\}/g, (_, a: string) => args[a] ?? ''), body: [] };
      stages.set(from[2] ?? `#${stages.size}`, current);
    } else if (!current) {
      const a = /^ARG\s+(\w+)=(\S+)/.exec(ins);
      if (a) args[a[1]] = a[2];
    } else {
      current.body.push(ins);
    }
  }
  /** The chain of stages a target is built FROM, target first. */
  const chain = (name: string): { from: string; body: string[] }[] => {
    const s = stages.get(name);
    if (!s) return [];
    return [s, ...chain(s.from)];
  };

  it.each([...SERVICES, CONSOLE, 'keyprotect-emulator'])('target %s: runtime on node 20 slim or distroless, non-root, runs its main', (svc) => {
    const c = chain(svc);
    expect(c.length).toBeGreaterThan(0);
    const base = c[c.length - 1].from;
    expect(base).toMatch(/^(node:20[.\d]*-(bookworm-)?slim|gcr\.io\/distroless\/nodejs20)/);
    const users = c.flatMap((s) => s.body).filter((i) => /^USER\s/i.test(i));
    expect(users.length).toBeGreaterThan(0);
    const user = users[0].split(/\s+/)[1];
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/); // numeric, so runAsNonRoot can be verified
    const cmd = c[0].body.find((i) => /^CMD\s/i.test(i)) ?? '';
    expect(cmd).toContain(`services/${svc}/dist/main.js`);
    expect(fs.existsSync(path.join(ROOT, 'services', svc, 'src/main.ts'))).toBe(true);
    // only this service's production dependencies
    const copyFrom = /COPY --from=(\S+)/.exec(c[0].body.join('\n'))?.[1] ?? '';
    expect(stages.get(copyFrom)?.body.join('\n')).toMatch(new RegExp(`npm ci --omit=dev .*-w services/${svc}\\b`));
  });

  it('builds with npm ci and tsc, and copies no local state, keys or secrets', () => {
    const all = [...stages.values()].flatMap((s) => s.body);
    expect(all.join('\n')).toMatch(/npm ci\b/);
    expect(all.join('\n')).toMatch(/tsc -b/);
    for (const i of all.filter((x) => /^(COPY|ADD)\s/i.test(x))) {
      expect(i).not.toMatch(/\bvar\/|\.key\b|\.pem\b|\.p12\b|\.env\b|pki/);
    }
    for (const i of all.filter((x) => /^(ENV|ARG)\s/i.test(x))) {
      expect(i).not.toMatch(/PASSWORD|SECRET|TOKEN|MASTER_KEY|API_KEY/i);
    }
  });

  it('EXPOSE matches the ports in main.ts and in the manifests', () => {
    const b = builds.get(OVERLAYS[0]) as Build;
    for (const svc of SERVICES) {
      const exposed = (chain(svc)[0].body.find((i) => /^EXPOSE\s/i.test(i)) ?? '').split(/\s+/).slice(1).map(Number).sort();
      const d = mainDefaults(svc);
      const main = svc === 'kmip-gateway' ? d.KMIP_PORT : String(portOf(svc === 'key-lifecycle' ? d.LIFECYCLE_ADDR : d.WRAPPING_ADDR));
      const fromCode = [main, d.METRICS_PORT, String(portOf(d.HEALTH_ADDR))];
      expect(exposed).toEqual(fromCode.map(Number).sort());
      const inManifest = containerPorts(find(b, 'Deployment', svc)).map((p: K8s) => p.containerPort).sort();
      expect(exposed).toEqual(inManifest);
    }
    const consoleExposed = (chain(CONSOLE)[0].body.find((i) => /^EXPOSE\s/i.test(i)) ?? '').split(/\s+/).slice(1).map(Number).sort();
    const cd = mainDefaults(CONSOLE);
    expect(consoleExposed).toEqual([portOf(cd.CONSOLE_ADDR), portOf(cd.HEALTH_ADDR)].sort());
    expect(containerPorts(find(b, 'Deployment', CONSOLE)).map((p: K8s) => p.containerPort).sort()).toEqual(consoleExposed);
    const emu = chain('keyprotect-emulator')[0].body.find((i) => /^EXPOSE\s/i.test(i));
    expect(emu).toBe(`EXPOSE ${mainDefaults('keyprotect-emulator').KP_EMULATOR_PORT}`);
  });

  it('copies into the images only files that exist', () => {
    for (const i of [...stages.values()].flatMap((s) => s.body).filter((x) => /^COPY\s/i.test(x) && !/--from=/.test(x))) {
      const [src] = i.split(/\s+/).slice(1);
      if (src !== '.') expect(fs.existsSync(path.join(ROOT, src))).toBe(true);
    }
  });

  it('.dockerignore keeps state and keys out and every workspace manifest in', () => {
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const p of ['var', '**/node_modules', '.git', '**/*.key', '**/*.pem']) expect(ignore).toContain(p);
    const workspaces: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).workspaces;
    for (const w of workspaces) {
      const excluded = ignore.some((p) => p === w || p === `${w}/**`);
      if (excluded) expect(ignore).toContain(`!${w}/package.json`);
    }
  });
});

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const b = builds.get(overlay) as Build;
  const ns = b.kustomization.namespace;
  const envRead = Object.fromEntries(SERVICES.map((s) => [s, envReadBy(s)])) as Record<Svc, Set<string>>;
  const main = (svc: Svc) => containersOf(find(b, 'Deployment', svc)).find((c: K8s) => c.name === svc);

  it('has its namespace, with restricted Pod Security, and puts everything in it', () => {
    const nsObj = find(b, 'Namespace', ns);
    expect(nsObj.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const o of b.objects.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace).toBe(ns);
    for (const o of b.objects) expect(o.metadata.labels?.['keywarden.io/region']).toBe(overlay);
  });

  it('runs one Deployment per service with enough replicas and an autoscaler floor to match', () => {
    for (const svc of SERVICES) {
      const d = find(b, 'Deployment', svc);
      expect(d.spec.replicas).toBeGreaterThanOrEqual(svc === 'kmip-gateway' ? 3 : 2);
      expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
      const hpa = byKind(b, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === svc);
      expect(hpa.spec.scaleTargetRef.kind).toBe('Deployment');
      expect(hpa.spec.minReplicas).toBe(d.spec.replicas);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    }
    for (const h of byKind(b, 'HorizontalPodAutoscaler')) find(b, h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name);
  });

  it('spreads every workload over zones and hardens every pod and container', () => {
    for (const w of workloads(b)) {
      const spec = podTemplate(w).spec;
      const labels = podTemplate(w).metadata.labels;
      const zone = (spec.topologySpreadConstraints ?? []).find((t: K8s) => t.topologyKey === 'topology.kubernetes.io/zone');
      expect(zone).toBeDefined();
      expect(matches(zone.labelSelector.matchLabels, labels)).toBe(true);
      expect(spec.automountServiceAccountToken).toBe(false);
      const sa = find(b, 'ServiceAccount', spec.serviceAccountName);
      expect(sa.automountServiceAccountToken).toBe(false);
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      expect(spec.securityContext.seccompProfile.type).toBe('RuntimeDefault');
      for (const c of containersOf(w)) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        for (const r of ['requests', 'limits']) for (const k of ['cpu', 'memory']) expect(c.resources?.[r]?.[k]).toBeDefined();
        expect(String(c.image)).not.toMatch(/:latest$/);
        expect(String(c.image)).toMatch(/[:@]/);
      }
    }
  });

  it('probes every container on a port it declares; gRPC health where the services serve it', () => {
    for (const w of workloads(b)) {
      for (const c of containersOf(w)) {
        expect(c.readinessProbe).toBeDefined();
        expect(c.livenessProbe).toBeDefined();
        for (const p of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean)) {
          const port = p.grpc?.port ?? p.httpGet?.port ?? p.tcpSocket?.port;
          if (port !== undefined) expect(resolvePort(c.ports ?? [], port)).toBeDefined();
          else expect(p.exec?.command?.length).toBeGreaterThan(0);
        }
      }
    }
    // The three services: the kubelet's grpc probe on HEALTH_ADDR (plaintext health on all interfaces),
    // a port named health that no Service publishes.
    for (const svc of SERVICES) {
      const c = main(svc);
      const addr = envOf(b, c).HEALTH_ADDR;
      expect(addr).toMatch(/^0\.0\.0\.0:\d+$/);
      expect(c.readinessProbe.grpc).toEqual({ port: portOf(addr) });
      expect(resolvePort(c.ports, 'health')).toBe(portOf(addr));
      for (const s of byKind(b, 'Service').filter((x) => podsMatching(b, x.spec.selector).includes(find(b, 'Deployment', svc)))) {
        for (const p of s.spec.ports) expect(resolvePort(c.ports, p.targetPort ?? p.port)).not.toBe(portOf(addr));
      }
      // Liveness must not follow a dependency: the gateway's and key-lifecycle's health do (key-lifecycle, Redis).
      if (svc === 'crk-wrapping') expect(c.livenessProbe.grpc).toEqual({ port: portOf(addr) });
      else expect(c.livenessProbe.grpc).toBeUndefined();
    }
  });

  it('reads only environment variables the services read, with consistent values', () => {
    for (const svc of SERVICES) {
      const c = main(svc);
      const env = envOf(b, c);
      const expanded = (c.env ?? []).map((e: K8s) => String(e.value ?? '')).join(' ');
      for (const name of Object.keys(env)) {
        const used = envRead[svc].has(name) || NODE_ENV_VARS.has(name) || expanded.includes(`$(${name})`);
        if (!used) throw new Error(`${svc}: ${name} is set but not read by services/${svc}/src or libs/common`);
      }
      // *_FILE variables name files the container has, mounted from a Secret when they hold one
      const files = mountedFiles(find(b, 'Deployment', svc), c);
      for (const [name, v] of Object.entries(env).filter(([k]) => k.endsWith('_FILE'))) {
        const f = files.get(v) ?? files.get(`${path.dirname(v)}/*`);
        if (!f) throw new Error(`${svc}: ${name}=${v} is not a file mounted in the container`);
        if (/PASSWORD|SECRET|TOKEN|API_KEY|MASTER_KEY/.test(name)) expect(f.kind).toBe('Secret');
      }
      expect(Number(env.METRICS_PORT)).toBe(resolvePort(c.ports, 'metrics'));
      for (const [k, v] of Object.entries(env)) {
        if (/_INSECURE$|^WRAPPING_ALLOW_HTTP$/.test(k)) expect(v).toBe('false');
      }
    }
    const gw = envOf(b, main('kmip-gateway'));
    expect(Number(gw.KMIP_PORT)).toBe(resolvePort(main('kmip-gateway').ports, 'kmip'));
    expect(portOf(envOf(b, main('key-lifecycle')).LIFECYCLE_ADDR)).toBe(resolvePort(main('key-lifecycle').ports, 'grpc'));
    expect(portOf(envOf(b, main('crk-wrapping')).WRAPPING_ADDR)).toBe(resolvePort(main('crk-wrapping').ports, 'grpc'));
    // client targets name headless Services, so grpc-js balances over every pod
    for (const [svc, varName, target] of [['kmip-gateway', 'LIFECYCLE_ADDR', 'key-lifecycle'], ['key-lifecycle', 'WRAPPING_ADDR', 'crk-wrapping']] as const) {
      const m = /^dns:\/\/\/([a-z0-9-]+):(\d+)$/.exec(envOf(b, main(svc))[varName]);
      expect(m?.[1]).toBe(target);
      const s = find(b, 'Service', target);
      expect(s.spec.clusterIP).toBe('None');
      expect(s.spec.ports.map((p: K8s) => p.port)).toContain(Number(m?.[2]));
      expect(podsMatching(b, s.spec.selector).map((w) => w.metadata.name)).toEqual([target]);
    }
    // Redis through its Sentinels, with the password from the Secret as a file
    const lc = envOf(b, main('key-lifecycle'));
    expect(Object.keys(lc).filter((k) => k.startsWith('REDIS_')).sort())
      .toEqual(['REDIS_PASSWORD_FILE', 'REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER', 'REDIS_WAIT_REPLICAS', 'REDIS_WAIT_TIMEOUT_MS']);
    expect(mountedFiles(find(b, 'Deployment', 'key-lifecycle'), main('key-lifecycle')).get(lc.REDIS_PASSWORD_FILE))
      .toMatchObject({ kind: 'Secret', name: 'keywarden-redis-auth', key: 'password' });
  });

  it('mounts TLS material and the master key where the services look for them', () => {
    const files = (svc: Svc) => mountedFiles(find(b, 'Deployment', svc), main(svc));
    for (const [svc, dirVar, extra] of [['kmip-gateway', 'GATEWAY_TLS_DIR', ['server.crt', 'server.key']], ['key-lifecycle', 'LIFECYCLE_TLS_DIR', []], ['crk-wrapping', 'WRAPPING_TLS_DIR', []]] as const) {
      const dir = envOf(b, main(svc))[dirVar];
      const f = files(svc);
      for (const n of ['ca.crt', `${svc}.crt`, `${svc}.key`, ...extra]) {
        const src = f.get(`${dir}/${n}`);
        expect(src?.kind).toBe('Secret');
      }
    }
    const keyFile = envOf(b, main('crk-wrapping')).KEYWARDEN_MASTER_KEY_FILE;
    expect(files('crk-wrapping').get(keyFile)).toMatchObject({ kind: 'Secret', name: 'keywarden-master-key', key: 'master.key' });
    // the master key goes to crk-wrapping only
    for (const w of workloads(b).filter((x) => x.metadata.name !== 'crk-wrapping')) {
      expect(secretRefs(w).map((r) => r.name)).not.toContain('keywarden-master-key');
      for (const c of containersOf(w)) expect(Object.keys(envOf(b, c)).filter((k) => k.startsWith('KEYWARDEN_MASTER_KEY'))).toEqual([]);
    }
  });

  it('runs the admin console: its variables read by its code, its identity and HTTPS key from Secrets, the Admin API by the headless Service', () => {
    const d = find(b, 'Deployment', CONSOLE);
    const c = containersOf(d).find((x: K8s) => x.name === CONSOLE);
    const env = envOf(b, c);
    // envString/envInt/process.env as for the services, and the files main.ts reads by variable name
    const read = envReadBy(CONSOLE);
    for (const m of sourceOf(CONSOLE).matchAll(/readFile\('([A-Z0-9_]+)'\)/g)) read.add(m[1]);
    for (const name of Object.keys(env)) if (!read.has(name)) throw new Error(`${CONSOLE}: ${name} is set but not read by services/${CONSOLE}/src or libs/common`);
    const files = mountedFiles(d, c);
    for (const v of [env.CONSOLE_HTTPS_CERT_FILE, env.CONSOLE_HTTPS_KEY_FILE]) expect(files.get(v)).toMatchObject({ kind: 'Secret', name: 'keywarden-admin-console-https' });
    for (const n of ['ca.crt', 'console.crt', 'console.key']) expect(files.get(`${env.CONSOLE_TLS_DIR}/${n}`)).toMatchObject({ kind: 'Secret', name: 'keywarden-admin-console-tls' });
    expect(portOf(env.CONSOLE_ADDR)).toBe(resolvePort(c.ports, 'https'));
    expect(portOf(env.HEALTH_ADDR)).toBe(resolvePort(c.ports, 'health'));
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(env.LIFECYCLE_ADDR).toBe('dns:///key-lifecycle:7001');
    // sessions live in memory: one replica, never behind a load balancer of its own
    expect(d.spec.replicas).toBe(1);
    const svc = find(b, 'Service', CONSOLE);
    expect(svc.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(svc.spec.ports.map((p: K8s) => resolvePort(c.ports, p.targetPort))).toEqual([portOf(env.CONSOLE_ADDR)]);
  });

  it('references only ConfigMaps in the build and Secrets the operator creates (documented)', () => {
    expect(byKind(b, 'Secret')).toEqual([]);
    for (const w of workloads(b)) {
      for (const r of secretRefs(w)) {
        const known = OPERATOR_SECRETS[r.name];
        if (!known) throw new Error(`${w.metadata.name} references Secret ${r.name}, which is neither in the build nor in OPERATOR_SECRETS`);
        if (r.key) expect(known.keys).toContain(r.key);
        if (known.optional) expect(r.optional).toBe(true);
      }
      const spec = podTemplate(w).spec;
      for (const v of spec.volumes ?? []) {
        if (v.configMap) find(b, 'ConfigMap', v.configMap.name);
        for (const s of v.projected?.sources ?? []) if (s.configMap) find(b, 'ConfigMap', s.configMap.name);
      }
      for (const c of containersOf(w)) {
        for (const ef of c.envFrom ?? []) if (ef.configMapRef) find(b, 'ConfigMap', ef.configMapRef.name);
        for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef) find(b, 'ConfigMap', e.valueFrom.configMapKeyRef.name);
        const volumeNames = [...(spec.volumes ?? []), ...(w.spec.volumeClaimTemplates ?? []).map((t: K8s) => t.metadata)].map((v: K8s) => v.name);
        for (const m of c.volumeMounts ?? []) expect(volumeNames).toContain(m.name);
        // scripts a container runs from a mounted ConfigMap exist in it
        for (const arg of [...(c.command ?? []), ...(c.args ?? [])]) {
          const f = mountedFiles(w, c);
          const dir = path.dirname(String(arg));
          const star = f.get(`${dir}/*`);
          if (star?.kind === 'ConfigMap') expect(Object.keys(find(b, 'ConfigMap', star.name).data)).toContain(path.basename(String(arg)));
        }
      }
    }
    for (const [name, s] of Object.entries(OPERATOR_SECRETS)) {
      const doc = fs.readFileSync(path.join(ROOT, s.doc ?? 'docs/deployment.md'), 'utf8');
      expect(doc).toContain(name);
      for (const k of s.keys) expect(doc).toContain(k);
    }
  });

  it('contains no plaintext secret', () => {
    for (const s of allStrings(b.objects)) {
      expect(s).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
      expect(s).not.toMatch(/redis:\/\/:[^$@]+@/);
    }
    for (const w of workloads(b)) {
      for (const c of containersOf(w)) {
        for (const e of c.env ?? []) {
          if (/PASSWORD|SECRET|TOKEN|API_KEY|MASTER_KEY$/.test(e.name)) expect(e.value).toBeUndefined();
        }
      }
    }
    for (const cm of byKind(b, 'ConfigMap')) {
      // NAME_FILE holds a path (checked to be a Secret mount above), not the secret
      for (const k of Object.keys(cm.data ?? {})) if (!k.endsWith('_FILE')) expect(k).not.toMatch(/PASSWORD|SECRET|TOKEN|API_KEY|^KEYWARDEN_MASTER_KEY$/);
    }
  });

  it('routes every Service to pods that have the port', () => {
    for (const s of byKind(b, 'Service')) {
      const pods = podsMatching(b, s.spec.selector);
      if (pods.length === 0) throw new Error(`Service ${s.metadata.name} selects no pods`);
      for (const p of s.spec.ports) {
        for (const w of pods) expect(resolvePort(containerPorts(w), p.targetPort ?? p.port)).toBeDefined();
      }
    }
    // KMIP: two or more L4 load balancers (vCenter's KMS cluster), client address kept
    const lbs = byKind(b, 'Service').filter((s) => s.spec.type === 'LoadBalancer');
    expect(lbs.length).toBeGreaterThanOrEqual(2);
    for (const s of lbs) {
      expect(s.spec.externalTrafficPolicy).toBe('Local');
      expect(s.spec.ports).toEqual([expect.objectContaining({ port: 5696, protocol: 'TCP' })]);
      expect(podsMatching(b, s.spec.selector).map((w) => w.metadata.name)).toEqual(['kmip-gateway']);
    }
    for (const s of byKind(b, 'Service').filter((x) => x.spec.type === 'LoadBalancer' || x.spec.type === 'NodePort')) {
      expect(s.metadata.name.startsWith('kmip-gateway')).toBe(true);
    }
  });

  it('has PodDisruptionBudgets that match one workload and allow a disruption', () => {
    const pdbs = byKind(b, 'PodDisruptionBudget');
    for (const w of workloads(b)) {
      const mine = pdbs.filter((p) => matches(p.spec.selector.matchLabels, podTemplate(w).metadata.labels));
      expect(mine.length).toBe(1);
    }
    for (const p of pdbs) {
      const pods = podsMatching(b, p.spec.selector.matchLabels);
      expect(pods.length).toBe(1);
      const replicas = pods[0].spec.replicas;
      if (p.spec.minAvailable !== undefined) expect(p.spec.minAvailable).toBeLessThan(replicas);
      else expect(p.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
    }
  });

  it('denies by default and allows exactly the designed flows', () => {
    const pols = byKind(b, 'NetworkPolicy');
    const deny = pols.find((p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress);
    expect(deny?.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    const external = (peer: K8s) => EXTERNAL_PEERS.some((e) =>
      (!e.podSelector || matches(e.podSelector, peer.podSelector?.matchLabels)) && (!e.namespaceSelector || matches(e.namespaceSelector, peer.namespaceSelector?.matchLabels))
      && (Boolean(e.podSelector) === Boolean(peer.podSelector)));
    for (const p of pols) {
      const selected = Object.keys(p.spec.podSelector).length ? podsMatching(b, p.spec.podSelector.matchLabels) : workloads(b);
      expect(selected.length).toBeGreaterThan(0);
      for (const r of p.spec.ingress ?? []) {
        for (const peer of r.from ?? []) {
          if (peer.ipBlock) continue;
          if (!peer.namespaceSelector) expect(podsMatching(b, peer.podSelector.matchLabels).length).toBeGreaterThan(0);
          else expect(external(peer)).toBe(true);
        }
        for (const port of r.ports ?? []) for (const w of selected) expect(resolvePort(containerPorts(w), port.port)).toBeDefined();
      }
      for (const r of p.spec.egress ?? []) {
        for (const peer of r.to ?? []) {
          if (peer.ipBlock) continue;
          if (!peer.namespaceSelector) {
            const targets = podsMatching(b, peer.podSelector.matchLabels);
            expect(targets.length).toBeGreaterThan(0);
            for (const port of r.ports ?? []) for (const t of targets) expect(resolvePort(containerPorts(t), port.port)).toBeDefined();
          } else {
            expect(external(peer)).toBe(true);
          }
        }
      }
    }
    const policyFor = (name: string) => pols.find((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === name);
    const sourcesOf = (name: string, port: number) => (policyFor(name)?.spec.ingress ?? [])
      .filter((r: K8s) => (r.ports ?? []).some((p: K8s) => p.port === port))
      .flatMap((r: K8s) => (r.from ? r.from.map((f: K8s) => JSON.stringify(f.podSelector?.matchLabels ?? f.namespaceSelector?.matchLabels)) : ['anywhere']));
    const app = (n: string) => JSON.stringify({ 'app.kubernetes.io/name': n });
    expect(sourcesOf('kmip-gateway', 5696)).toEqual(['anywhere']);
    expect(sourcesOf('key-lifecycle', 7001).sort()).toEqual([app('kmip-gateway'), app(CONSOLE), JSON.stringify({ 'keywarden.io/admin-client': 'true' })].sort());
    // the console: browsers through labelled pods only, its health port for the kubelet, and out only to the Admin API
    expect(sourcesOf(CONSOLE, 8443)).toEqual([JSON.stringify({ 'keywarden.io/console-client': 'true' })]);
    expect(sourcesOf(CONSOLE, 9414)).toEqual(['anywhere']);
    expect((policyFor(CONSOLE)?.spec.egress ?? []).flatMap((r: K8s) => r.to.map((t: K8s) => `${t.podSelector?.matchLabels?.['app.kubernetes.io/name']}:${r.ports.map((p: K8s) => p.port)}`)))
      .toEqual(['key-lifecycle:7001']);
    expect(sourcesOf('crk-wrapping', 7002)).toEqual([app('key-lifecycle')]);
    for (const port of [6379, 26379]) expect(sourcesOf('redis', port).sort()).toEqual([app('key-lifecycle'), app('redis')].sort());
    const egress = (name: string, to: string) => (policyFor(name)?.spec.egress ?? [])
      .filter((r: K8s) => r.to?.some((t: K8s) => t.podSelector?.matchLabels?.['app.kubernetes.io/name'] === to))
      .flatMap((r: K8s) => r.ports.map((p: K8s) => p.port)).sort();
    expect(egress('key-lifecycle', 'redis')).toEqual([26379, 6379]);
    expect(egress('key-lifecycle', 'crk-wrapping')).toEqual([7002]);
    // the kubelet's grpc probes come from the node: the plaintext health ports are open (they serve health only)
    for (const svc of SERVICES) expect(sourcesOf(svc, portOf(envOf(b, main(svc)).HEALTH_ADDR))).toEqual(['anywhere']);
    const wrapEgress = policyFor('crk-wrapping')?.spec.egress ?? [];
    expect(wrapEgress.some((r: K8s) => r.to?.some((t: K8s) => t.ipBlock?.cidr === '0.0.0.0/0') && r.ports?.every((p: K8s) => p.port === 443))).toBe(true);
    const dns = pols.find((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.egress);
    expect(dns?.spec.egress[0].ports.map((p: K8s) => p.port)).toEqual([53, 53]);
  });

  it('runs Redis with replicas, Sentinel and AOF appendfsync always', () => {
    const sts = find(b, 'StatefulSet', 'redis');
    const n = sts.spec.replicas;
    expect(n).toBeGreaterThanOrEqual(3);
    const cm = find(b, 'ConfigMap', 'redis-config').data;
    const conf = Object.fromEntries(String(cm['redis.conf']).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => [l.split(/\s+/)[0], l.split(/\s+/).slice(1).join(' ')]));
    expect(conf).toMatchObject({ appendonly: 'yes', appendfsync: 'always', 'maxmemory-policy': 'noeviction' });
    expect(Number(conf['min-replicas-to-write'])).toBeGreaterThanOrEqual(1);
    const env = (c: string) => envOf(b, containersOf(sts).find((x: K8s) => x.name === c));
    expect(Number(env('redis').REDIS_NODES)).toBe(n);
    expect(Number(env('sentinel').REDIS_NODES)).toBe(n);
    expect(Number(env('sentinel').SENTINEL_QUORUM)).toBe(Math.floor(n / 2) + 1);
    expect(cm['sentinel.sh']).toMatch(/sentinel monitor keywarden \$\{MASTER\} 6379 \$\{SENTINEL_QUORUM\}/);
    expect(find(b, 'Service', sts.spec.serviceName).spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    // key-lifecycle knows every Sentinel, by the headless Service's names, and the master name they monitor
    const lc = envOf(b, main('key-lifecycle'));
    const sentinelPort = resolvePort(containersOf(sts).find((x: K8s) => x.name === 'sentinel').ports, 'sentinel');
    expect(find(b, 'Service', sts.spec.serviceName).spec.ports.map((p: K8s) => p.port)).toContain(sentinelPort);
    expect(lc.REDIS_SENTINELS.split(',')).toEqual(Array.from({ length: n }, (_, i) => `${sts.metadata.name}-${i}.${sts.spec.serviceName}:${sentinelPort}`));
    const monitored = /sentinel monitor (\S+) /.exec(String(cm['sentinel.sh']))?.[1];
    expect(lc.REDIS_SENTINEL_MASTER).toBe(monitored);
    expect(String(cm['common.sh'])).toContain(`get-master-addr-by-name ${monitored}`);
    // key-lifecycle waits for a replica, which the set can always give
    const wait = Number(envOf(b, main('key-lifecycle')).REDIS_WAIT_REPLICAS);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(n - 1);
  });

  it('keeps the keyprotect-emulator and development switches out', () => {
    for (const s of allStrings(b.objects)) {
      expect(s).not.toMatch(/keyprotect-emulator|KP_EMULATOR|GATEWAY_INSECURE_BACKEND/);
    }
    for (const w of workloads(b)) for (const p of containerPorts(w)) expect(p.containerPort).not.toBe(7080);
  });

  it('pulls keywarden images from the region and refers to no other region', () => {
    const registry = b.kustomization.images.map((i: K8s) => String(i.newName).split('/')[0]);
    expect(new Set(registry).size).toBe(1);
    for (const svc of [...SERVICES, CONSOLE]) {
      const image = containersOf(find(b, 'Deployment', svc)).find((c: K8s) => c.name === svc).image;
      expect(image).toMatch(new RegExp(`^${registry[0].replace(/\./g, '\\.')}/keywarden/${svc}:\\d`));
    }
    const region = find(b, 'ConfigMap', 'keywarden-region').data;
    expect(region.region).toBe(overlay);
    expect(region['keyprotect-endpoint']).toBe(`https://${overlay}.kms.cloud.ibm.com`);
    const text = JSON.stringify(b.objects);
    for (const other of OVERLAYS.filter((o) => o !== overlay)) {
      expect(text).not.toContain(other);
      const otherRegistry = String((builds.get(other) as Build).kustomization.images[0].newName).split('/')[0];
      if (otherRegistry !== registry[0]) expect(text).not.toContain(otherRegistry);
    }
  });
});

describe('deploy/monitoring', () => {
  const { service, all } = knownMetrics();
  const dashboard = JSON.parse(fs.readFileSync(path.join(DEPLOY, 'monitoring/grafana/keywarden.json'), 'utf8'));
  const panels: K8s[] = dashboard.panels.filter((p: K8s) => p.type !== 'row');
  const exprs: string[] = panels.flatMap((p) => p.targets.map((t: K8s) => t.expr));
  const rules: K8s[] = readYaml(path.join(DEPLOY, 'monitoring/prometheus/alerts.rules.yaml'))[0].groups.flatMap((g: K8s) => g.rules);

  it('finds the metrics the services register', () => {
    expect([...service].sort()).toEqual(expect.arrayContaining(['kmip_gateway_tls_handshakes_total', 'keywarden_lifecycle_operations_total', 'crk_wrapping_breaker_state']));
    expect(all.has('process_cpu_seconds_total')).toBe(true);
  });

  it('dashboard queries only metrics the services export, and every one of them', () => {
    const used = new Set(exprs.flatMap(promqlMetrics));
    for (const m of used) if (!isKnownMetric(m, all)) throw new Error(`dashboard queries ${m}, which no service exports`);
    for (const m of service) expect([...used].some((u) => u === m || u.replace(/_(bucket|sum|count)$/, '') === m)).toBe(true);
    const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of ['handshake', 'connections', 'operations', 'latency', 'breaker', 'provider', 'cpu', 'memory', 'redis']) expect(titles).toContain(topic);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
  });

  it('alert rules use exported metrics and cover breaker, error rate and handshake p99', () => {
    for (const r of rules) for (const m of promqlMetrics(String(r.expr))) if (!isKnownMetric(m, all)) throw new Error(`alert ${r.alert} uses ${m}`);
    const names = rules.map((r) => r.alert);
    expect(names).toEqual(expect.arrayContaining(['KeywardenBreakerOpen', 'KeywardenKmipErrorRate', 'KeywardenHandshakeP99High']));
  });

  it('alerts at 80 % of a tenant\'s quotas and of Redis maxmemory', () => {
    const expr = (name: string) => String(rules.find((r) => r.alert === name)?.expr ?? '');
    expect(expr('KeywardenTenantQuotaNear')).toMatch(/keywarden_lifecycle_tenant_objects\{[^}]*\}\)\s*\/\s*max by \(region, tenant\) \(keywarden_lifecycle_tenant_objects_quota\{[^}]*\}\) > 0\.8/);
    expect(expr('KeywardenTenantQuotaNear')).toMatch(/keywarden_lifecycle_tenant_attribute_bytes_quota\{[^}]*\}\) > 0\.8/);
    expect(expr('KeywardenRedisMemoryNear')).toMatch(/keywarden_lifecycle_redis_used_memory_bytes[\s\S]*keywarden_lifecycle_redis_maxmemory_bytes[\s\S]*> 0\.8/);
  });

  it('scrapes the three metrics ports by name, as the Deployments declare them', () => {
    const scrape = readYaml(path.join(DEPLOY, 'monitoring/prometheus/scrape-config.yaml'))[0].scrape_configs[0];
    const keep = scrape.relabel_configs.find((r: K8s) => r.source_labels[0] === '__meta_kubernetes_pod_container_port_name');
    expect(keep).toMatchObject({ regex: 'metrics', action: 'keep' });
    const mon = build(path.join(DEPLOY, 'monitoring'));
    const pm = find(mon, 'PodMonitor', 'keywarden');
    expect(pm.spec.podMetricsEndpoints[0].port).toBe('metrics');
    const b = builds.get(OVERLAYS[0]) as Build;
    const ports = SERVICES.map((svc) => {
      const d = find(b, 'Deployment', svc);
      expect(matches(pm.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
      return resolvePort(containerPorts(d), 'metrics');
    });
    expect(ports).toEqual([9401, 9402, 9403]);
    // no other workload exposes a port named metrics that would be scraped by mistake
    for (const w of workloads(b).filter((x) => !SERVICES.includes(x.metadata.name))) expect(resolvePort(containerPorts(w), 'metrics')).toBeUndefined();
    const cm = find(mon, 'ConfigMap', 'keywarden-grafana-dashboard');
    expect(JSON.parse(cm.data['keywarden.json']).uid).toBe(dashboard.uid);
  });
});

describe('docs/deployment.md', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/deployment.md'), 'utf8');
  it('covers every overlay and the build commands', () => {
    for (const o of OVERLAYS) expect(doc).toContain(`deploy/k8s/overlays/${o}`);
    for (const svc of SERVICES) expect(doc).toContain(`--target ${svc}`);
    expect(doc).toContain('kmip-gateway-a');
    expect(doc).toContain('kmip-gateway-b');
  });
});
