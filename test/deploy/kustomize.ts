// A small, strict subset of `kustomize build`, enough for deploy/: no cluster
// and no kustomize binary are needed to check the manifests. Any field or
// patch form outside the subset throws, so the manifests cannot drift into
// something this builder would silently get wrong.
//
// Supported: resources (files and directories with a kustomization.yaml),
// namespace, labels (pairs, includeTemplates; not includeSelectors), images
// (name, newName, newTag, digest), patches (JSON 6902, inline or path, with a
// kind/name target), configMapGenerator (files, literals, options.labels) with
// disableNameSuffixHash. Order as kustomize: sub-builds, generators, patches,
// namespace, labels, images.
import fs from 'fs';
import path from 'path';
import { parseAllDocuments } from 'yaml';

// Kubernetes objects are untyped YAML here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8s = any;

const SUPPORTED = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'labels', 'images', 'patches', 'configMapGenerator', 'generatorOptions']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'PersistentVolume']);
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

/** Every document of a YAML file; throws on any parse error or warning. */
export function readYaml(file: string): K8s[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const out: K8s[] = [];
  for (const d of docs) {
    const problems = [...d.errors, ...d.warnings];
    if (problems.length) throw new Error(`${file}: ${problems.map((e) => e.message).join('; ')}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

export function key(o: K8s): string {
  return `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
}

/** Pod templates of a workload (none for other kinds). */
export function podTemplate(o: K8s): K8s | undefined {
  if (WORKLOADS.has(o.kind)) return o.spec?.template;
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template;
  return undefined;
}

export function containersOf(o: K8s): K8s[] {
  const spec = podTemplate(o)?.spec;
  return spec ? [...(spec.initContainers ?? []), ...(spec.containers ?? [])] : [];
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function applyJsonPatch(doc: K8s, ops: K8s[], where: string): void {
  for (const op of ops) {
    if (typeof op?.path !== 'string' || !op.path.startsWith('/')) throw new Error(`${where}: bad JSON patch path ${op?.path}`);
    const parts = op.path.slice(1).split('/').map(unescapePointer);
    const last = parts.pop() as string;
    let parent = doc;
    for (const p of parts) {
      parent = Array.isArray(parent) ? parent[Number(p)] : parent?.[p];
      if (parent === undefined) throw new Error(`${where}: ${op.path} does not exist`);
    }
    const exists = Array.isArray(parent) ? Number(last) < parent.length : Object.prototype.hasOwnProperty.call(parent, last);
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
        else parent[last] = op.value;
        break;
      case 'replace':
        if (!exists) throw new Error(`${where}: replace of missing ${op.path}`);
        if (Array.isArray(parent)) parent[Number(last)] = op.value;
        else parent[last] = op.value;
        break;
      case 'remove':
        if (!exists) throw new Error(`${where}: remove of missing ${op.path}`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      default:
        throw new Error(`${where}: JSON patch op ${op.op} is outside the supported subset`);
    }
  }
}

function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [rest, digest] = image.split('@');
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { name: rest, digest };
}

export interface Build {
  dir: string;
  kustomization: K8s;
  objects: K8s[];
  /** Files this build read, kustomization files included. */
  files: string[];
}

/** Builds the kustomization in dir the way `kustomize build dir` would, for the supported subset. */
export function build(dir: string): Build {
  const kfile = path.join(dir, 'kustomization.yaml');
  const [k] = readYaml(kfile);
  const files = [kfile];
  if (k.kind !== 'Kustomization') throw new Error(`${kfile}: kind must be Kustomization`);
  for (const f of Object.keys(k)) if (!SUPPORTED.has(f)) throw new Error(`${kfile}: field "${f}" is outside the supported subset`);

  const objects: K8s[] = [];
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    if (fs.statSync(p).isDirectory()) {
      const sub = build(p);
      objects.push(...sub.objects);
      files.push(...sub.files);
    } else {
      objects.push(...readYaml(p));
      files.push(p);
    }
  }

  const noHash = k.generatorOptions?.disableNameSuffixHash === true;
  for (const g of k.configMapGenerator ?? []) {
    if (!noHash && g.options?.disableNameSuffixHash !== true) throw new Error(`${kfile}: configMapGenerator ${g.name} needs disableNameSuffixHash (name hashes are outside the subset)`);
    const data: Record<string, string> = {};
    for (const f of g.files ?? []) {
      const [keyName, rel] = String(f).includes('=') ? String(f).split('=') : [path.basename(String(f)), String(f)];
      const p = path.resolve(dir, rel);
      data[keyName] = fs.readFileSync(p, 'utf8');
      files.push(p);
    }
    for (const l of g.literals ?? []) {
      const i = String(l).indexOf('=');
      data[String(l).slice(0, i)] = String(l).slice(i + 1);
    }
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name, labels: { ...(g.options?.labels ?? {}) } }, data });
  }

  for (const [i, p] of (k.patches ?? []).entries()) {
    const where = `${kfile} patches[${i}]`;
    let ops: K8s;
    if (p.path) {
      const pf = path.resolve(dir, p.path);
      ops = readYaml(pf)[0];
      files.push(pf);
    } else {
      const [doc] = parseAllDocuments(String(p.patch));
      if (doc.errors.length) throw new Error(`${where}: ${doc.errors[0].message}`);
      ops = doc.toJS();
    }
    if (!Array.isArray(ops)) throw new Error(`${where}: only JSON 6902 patches are supported`);
    const t = p.target ?? {};
    if (!t.kind || !t.name) throw new Error(`${where}: target needs kind and name`);
    const hits = objects.filter((o) => o.kind === t.kind && o.metadata?.name === t.name);
    if (hits.length !== 1) throw new Error(`${where}: target ${t.kind}/${t.name} matches ${hits.length} objects`);
    applyJsonPatch(hits[0], ops, where);
  }

  if (k.namespace) {
    for (const o of objects) {
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata = { ...o.metadata, namespace: k.namespace };
    }
  }

  for (const l of k.labels ?? []) {
    if (l.includeSelectors) throw new Error(`${kfile}: labels.includeSelectors is outside the supported subset`);
    for (const o of objects) {
      o.metadata = { ...o.metadata, labels: { ...(o.metadata?.labels ?? {}), ...l.pairs } };
      const tpl = l.includeTemplates ? podTemplate(o) : undefined;
      if (tpl) tpl.metadata = { ...tpl.metadata, labels: { ...(tpl.metadata?.labels ?? {}), ...l.pairs } };
    }
  }

  for (const img of k.images ?? []) {
    for (const o of objects) {
      for (const c of containersOf(o)) {
        const cur = splitImage(String(c.image));
        if (cur.name !== img.name) continue;
        const name = img.newName ?? cur.name;
        if (img.digest) c.image = `${name}@${img.digest}`;
        else c.image = `${name}${img.newTag ?? cur.tag ? `:${img.newTag ?? cur.tag}` : ''}${cur.digest ? `@${cur.digest}` : ''}`;
      }
    }
  }

  const seen = new Set<string>();
  for (const o of objects) {
    if (seen.has(key(o))) throw new Error(`${kfile}: ${key(o)} defined twice`);
    seen.add(key(o));
  }
  return { dir, kustomization: k, objects, files };
}
