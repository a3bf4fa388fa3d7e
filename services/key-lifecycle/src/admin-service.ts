import { grpc, peerOf, requireRole, ServiceError, toStatus } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { listAudit } from './admin/audit';
import { addCertificate, listCertificates, removeCertificate, setCertificatePassword } from './admin/certificates';
import { destroyKey, revokeKey } from './admin/key-state';
import { getKey, listKeys, probeKey } from './admin/keys';
import {
  addOperator, CONSOLE_IDENTITY, listOperators, loadOperator, removeOperator, setOperatorPassword, verifyOperatorPassword,
} from './admin/operators';
import { RewrapJobs } from './admin/rewrap';
import { getRootKeyStatus, rotateRootKey, shredRootKey } from './admin/root-keys';
import { createTenant, deleteTenant, getTenant, listTenants, tenantOut, updateTenant } from './admin/tenants';
import type { Core, OpContext } from './core';

type Call = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

const WHAT = 'the Admin API';

/**
 * Request metadata in which the admin console names the person signed in to
 * it, and the epoch of that person's password (docs/console.md). Read from
 * the console's certificate alone: from any other caller it is ignored.
 */
export const ACTING_OPERATOR_METADATA = 'keywarden-operator';
export const OPERATOR_EPOCH_METADATA = 'keywarden-operator-epoch';

/** Methods that change nothing: all a console viewer may call. */
const READ_ONLY = new Set(['ListTenants', 'GetTenant', 'ListCertificates', 'ListKeys', 'GetKey', 'ProbeKey', 'GetRootKeyStatus', 'WatchRewrap', 'ListAudit']);
/** Account management: for operator certificates (the CLI), never through the console. */
const ACCOUNTS = new Set(['AddOperator', 'ListOperators', 'RemoveOperator', 'SetOperatorPassword']);

const denied = (m: string) => new ServiceError(grpc.status.PERMISSION_DENIED, m);

function metadataValue(call: Call, key: string): string {
  const v = call.metadata.get(key)[0];
  return typeof v === 'string' ? v.slice(0, 128) : '';
}

/**
 * Who may use the Admin API: operator certificates of the internal CA (URI
 * SAN spiffe://keywarden/operator[/<name>]); anyone only on a plaintext
 * development server. The caller is recorded before the check, so a refused
 * call is audited with the certificate that tried.
 *
 * The console's certificate (operator/console) acts for the person signed in
 * to it: each of its calls names that account and its password epoch, which
 * must still be current, and the account's role decides (a viewer reads
 * only). The audit names the person, `via` the console. Only this
 * certificate may check passwords, and it may not manage accounts.
 */
async function authorize(core: Core, call: Call, c: OpContext, secure: boolean, method: string): Promise<void> {
  const peer = peerOf(call);
  if (peer) c.fingerprint = peer.fingerprint;
  requireRole(call, secure, ['operator'], WHAT);
  if (!secure) return;
  if (peer?.name !== CONSOLE_IDENTITY) {
    if (peer?.name) c.detail = { ...c.detail, operator: peer.name };
    if (method === 'VerifyOperatorPassword') throw denied('only the admin console checks operator passwords');
    return;
  }
  c.detail = { ...c.detail, via: CONSOLE_IDENTITY };
  if (ACCOUNTS.has(method)) throw denied('operator accounts are managed with the keywarden CLI (`keywarden operator`), not through the console');
  if (method === 'VerifyOperatorPassword') return;
  const name = metadataValue(call, ACTING_OPERATOR_METADATA);
  if (!name) throw denied('the console must name the operator it acts for');
  c.detail.operator = name;
  const o = await loadOperator(core, name);
  if (!o) throw new ServiceError(grpc.status.UNAUTHENTICATED, `no operator "${name}" (removed?); sign in again`);
  if (o.epoch !== metadataValue(call, OPERATOR_EPOCH_METADATA)) throw new ServiceError(grpc.status.UNAUTHENTICATED, `the password of "${name}" was changed; sign in again`);
  if (o.role !== adminV1.OperatorRole.OPERATOR_ROLE_ADMIN && !READ_ONLY.has(method)) throw denied(`operator "${name}" is a viewer: read-only`);
}

/** The provider fields a tenant change set, for the audit (values of endpoints and ids; never a credential). */
function providerChanges(before: adminV1.Tenant | undefined, after: adminV1.Tenant, req: { credential?: string; credentialRef?: string }): Record<string, string> {
  const out: Record<string, string> = {};
  const b = before?.provider;
  const a = after.provider;
  const fields = ['kind', 'endpoint', 'iamEndpoint', 'instanceId', 'crkId'] as const;
  const changed = fields.filter((f) => a && String(a[f]) !== String(b?.[f] ?? ''));
  for (const f of changed) {
    if (f !== 'kind') out[f] = String(a?.[f] ?? '');
  }
  const names: string[] = [...changed];
  if (req.credential || req.credentialRef) {
    names.push('credential');
    // Which kind of reference, never the secret (a file: or env: reference names no secret).
    out.credentialSource = after.credentialSource;
  }
  if (names.length) out.changed = names.join(',');
  return out;
}

export function adminService(core: Core, jobs: RewrapJobs, secure: boolean): adminV1.AdminServer {
  const h = <Req, Res>(name: string, fn: (req: Req, c: OpContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> => (call, callback) => {
    core.audited(`Admin.${name}`, async (c) => {
      const r = call.request as { tenantId?: string; id?: string; uniqueIdentifier?: string };
      c.tenant = r.tenantId || r.id || undefined;
      // Before the check, so that a refused change to a key is audited with the key.
      if (r.uniqueIdentifier) c.uid = r.uniqueIdentifier.slice(0, 256);
      await authorize(core, call as Call, c, secure, name);
      return fn(call.request, c);
    }).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toStatus(err, core.log, { method: `Admin.${name}` }) as grpc.ServerErrorResponse),
    );
  };
  return {
    createTenant: h('CreateTenant', async (req: adminV1.CreateTenantRequest, c) => {
      const t = await createTenant(core, req);
      c.detail = { ...c.detail, ...providerChanges(undefined, t, req) };
      return t;
    }),
    listTenants: h('ListTenants', () => listTenants(core)),
    getTenant: h('GetTenant', (req: adminV1.GetTenantRequest) => getTenant(core, req)),
    updateTenant: h('UpdateTenant', async (req: adminV1.UpdateTenantRequest, c) => {
      const before = await core.store.getTenant(req.tenantId);
      const prev = before ? await tenantOut(core, before) : undefined;
      const t = await updateTenant(core, req, c);
      c.detail = { ...c.detail, ...providerChanges(prev, t, req) };
      return t;
    }),
    deleteTenant: h('DeleteTenant', (req: adminV1.DeleteTenantRequest) => deleteTenant(core, req)),
    addCertificate: h('AddCertificate', (req: adminV1.AddCertificateRequest) => addCertificate(core, req)),
    listCertificates: h('ListCertificates', (req: adminV1.ListCertificatesRequest) => listCertificates(core, req)),
    removeCertificate: h('RemoveCertificate', (req: adminV1.RemoveCertificateRequest) => removeCertificate(core, req)),
    setCertificatePassword: h('SetCertificatePassword', async (req: adminV1.SetCertificatePasswordRequest, c) => {
      c.detail = { ...c.detail, certificate: req.fingerprint.slice(0, 128), password: req.clear ? 'cleared' : 'set' };
      return setCertificatePassword(core, req);
    }),
    listKeys: h('ListKeys', (req: adminV1.ListKeysRequest) => listKeys(core, req)),
    getKey: h('GetKey', (req: adminV1.GetKeyRequest) => getKey(core, req)),
    probeKey: h('ProbeKey', async (req: adminV1.ProbeKeyRequest, c) => {
      c.uid = req.uniqueIdentifier;
      return probeKey(core, req);
    }),
    getRootKeyStatus: h('GetRootKeyStatus', (req: adminV1.GetRootKeyStatusRequest) => getRootKeyStatus(core, req)),
    rotateRootKey: h('RotateRootKey', (req: adminV1.RotateRootKeyRequest) => rotateRootKey(core, req)),
    startRewrap: h('StartRewrap', (req: adminV1.StartRewrapRequest) => jobs.start(req)),
    watchRewrap: (call) => {
      const c: OpContext = { op: 'Admin.WatchRewrap', fingerprint: '' };
      Promise.resolve()
        .then(() => authorize(core, call as Call, c, secure, 'WatchRewrap'))
        .then(() => jobs.watch(call.request, call))
        .then(() => call.end(), (err: unknown) => { call.emit('error', toStatus(err, core.log, { method: 'Admin.WatchRewrap' })); });
    },
    shredRootKey: h('ShredRootKey', (req: adminV1.ShredRootKeyRequest) => shredRootKey(core, req)),
    revokeKey: h('RevokeKey', async (req: adminV1.RevokeKeyRequest, c) => {
      c.detail = { ...c.detail, revocationReason: String(req.revocationReasonCode) };
      return revokeKey(core, req);
    }),
    destroyKey: h('DestroyKey', (req: adminV1.DestroyKeyRequest) => destroyKey(core, req)),
    listAudit: h('ListAudit', (req: adminV1.ListAuditRequest) => listAudit(core, req)),
    addOperator: h('AddOperator', async (req: adminV1.AddOperatorRequest, c) => {
      c.detail = { ...c.detail, account: req.name.slice(0, 64), role: adminV1.operatorRoleToJSON(req.role) };
      return addOperator(core, req);
    }),
    listOperators: h('ListOperators', () => listOperators(core)),
    removeOperator: h('RemoveOperator', async (req: adminV1.RemoveOperatorRequest, c) => {
      c.detail = { ...c.detail, account: req.name.slice(0, 64) };
      return removeOperator(core, req);
    }),
    setOperatorPassword: h('SetOperatorPassword', async (req: adminV1.SetOperatorPasswordRequest, c) => {
      c.detail = { ...c.detail, account: req.name.slice(0, 64) };
      return setOperatorPassword(core, req);
    }),
    verifyOperatorPassword: h('VerifyOperatorPassword', async (req: adminV1.VerifyOperatorPasswordRequest, c) => {
      // The audit names who tried to sign in (the password is never recorded).
      c.detail = { ...c.detail, operator: req.name.slice(0, 64) };
      return verifyOperatorPassword(core, req);
    }),
  };
}
