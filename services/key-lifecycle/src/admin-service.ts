import { grpc, peerOf, requireRole, toStatus } from '@keywarden/common';
import type { adminV1 } from '@keywarden/proto';
import { addCertificate, listCertificates, removeCertificate } from './admin/certificates';
import { getKey, listKeys, probeKey } from './admin/keys';
import { RewrapJobs } from './admin/rewrap';
import { getRootKeyStatus, rotateRootKey, shredRootKey } from './admin/root-keys';
import { createTenant, deleteTenant, getTenant, listTenants, tenantOut, updateTenant } from './admin/tenants';
import type { Core, OpContext } from './core';

type Call = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

const WHAT = 'the Admin API';

/**
 * Who may use the Admin API: operator certificates of the internal CA (URI
 * SAN spiffe://keywarden/operator[/<name>]); anyone only on a plaintext
 * development server. The caller is recorded before the check, so a refused
 * call is audited with the certificate that tried.
 */
function authorize(call: Call, c: OpContext, secure: boolean): void {
  const peer = peerOf(call);
  if (peer) c.fingerprint = peer.fingerprint;
  requireRole(call, secure, ['operator'], WHAT);
  if (peer?.name) c.detail = { ...c.detail, operator: peer.name };
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
      const r = call.request as { tenantId?: string; id?: string };
      c.tenant = r.tenantId || r.id || undefined;
      authorize(call as Call, c, secure);
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
      const t = await updateTenant(core, req);
      c.detail = { ...c.detail, ...providerChanges(prev, t, req) };
      return t;
    }),
    deleteTenant: h('DeleteTenant', (req: adminV1.DeleteTenantRequest) => deleteTenant(core, req)),
    addCertificate: h('AddCertificate', (req: adminV1.AddCertificateRequest) => addCertificate(core, req)),
    listCertificates: h('ListCertificates', (req: adminV1.ListCertificatesRequest) => listCertificates(core, req)),
    removeCertificate: h('RemoveCertificate', (req: adminV1.RemoveCertificateRequest) => removeCertificate(core, req)),
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
        .then(() => authorize(call as Call, c, secure))
        .then(() => jobs.watch(call.request, call))
        .then(() => call.end(), (err: unknown) => { call.emit('error', toStatus(err, core.log, { method: 'Admin.WatchRewrap' })); });
    },
    shredRootKey: h('ShredRootKey', (req: adminV1.ShredRootKeyRequest) => shredRootKey(core, req)),
  };
}
