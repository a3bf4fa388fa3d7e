import { certFingerprint, grpc, ServiceError, toStatus } from '@keywarden/common';
import type { adminV1 } from '@keywarden/proto';
import { addCertificate, listCertificates, removeCertificate } from './admin/certificates';
import { getKey, listKeys } from './admin/keys';
import { RewrapJobs } from './admin/rewrap';
import { getRootKeyStatus, rotateRootKey, shredRootKey } from './admin/root-keys';
import { createTenant, deleteTenant, getTenant, listTenants, updateTenant } from './admin/tenants';
import type { Core, OpContext } from './core';

type Call = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/**
 * Who may use the Admin API. Without TLS (development) anyone; with mTLS,
 * any client certificate of the internal CA unless `allowed` names the
 * permitted certificate subjects' common names.
 */
function authorize(call: Call, c: OpContext, allowed: string[] | undefined): void {
  const peer = call.getAuthContext?.()?.sslPeerCertificate;
  if (peer?.raw) c.fingerprint = certFingerprint(peer.raw);
  if (!allowed || allowed.length === 0) return;
  const cn = peer?.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name || !allowed.includes(name)) {
    throw new ServiceError(grpc.status.PERMISSION_DENIED, `client certificate "${name ?? 'none'}" may not use the Admin API`);
  }
}

export function adminService(core: Core, jobs: RewrapJobs, allowed?: string[]): adminV1.AdminServer {
  const h = <Req, Res>(name: string, fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> => (call, callback) => {
    core.audited(`Admin.${name}`, async (c) => {
      authorize(call as Call, c, allowed);
      c.tenant = (call.request as { tenantId?: string }).tenantId || undefined;
      return fn(call.request);
    }).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toStatus(err, core.log, { method: `Admin.${name}` }) as grpc.ServerErrorResponse),
    );
  };
  return {
    createTenant: h('CreateTenant', (req: adminV1.CreateTenantRequest) => createTenant(core, req)),
    listTenants: h('ListTenants', () => listTenants(core)),
    getTenant: h('GetTenant', (req: adminV1.GetTenantRequest) => getTenant(core, req)),
    updateTenant: h('UpdateTenant', (req: adminV1.UpdateTenantRequest) => updateTenant(core, req)),
    deleteTenant: h('DeleteTenant', (req: adminV1.DeleteTenantRequest) => deleteTenant(core, req)),
    addCertificate: h('AddCertificate', (req: adminV1.AddCertificateRequest) => addCertificate(core, req)),
    listCertificates: h('ListCertificates', (req: adminV1.ListCertificatesRequest) => listCertificates(core, req)),
    removeCertificate: h('RemoveCertificate', (req: adminV1.RemoveCertificateRequest) => removeCertificate(core, req)),
    listKeys: h('ListKeys', (req: adminV1.ListKeysRequest) => listKeys(core, req)),
    getKey: h('GetKey', (req: adminV1.GetKeyRequest) => getKey(core, req)),
    getRootKeyStatus: h('GetRootKeyStatus', (req: adminV1.GetRootKeyStatusRequest) => getRootKeyStatus(core, req)),
    rotateRootKey: h('RotateRootKey', (req: adminV1.RotateRootKeyRequest) => rotateRootKey(core, req)),
    startRewrap: h('StartRewrap', (req: adminV1.StartRewrapRequest) => jobs.start(req)),
    watchRewrap: (call) => {
      const c: OpContext = { op: 'Admin.WatchRewrap', fingerprint: '' };
      Promise.resolve()
        .then(() => authorize(call as Call, c, allowed))
        .then(() => jobs.watch(call.request, call))
        .then(() => call.end(), (err: unknown) => { call.emit('error', toStatus(err, core.log, { method: 'Admin.WatchRewrap' })); });
    },
    shredRootKey: h('ShredRootKey', (req: adminV1.ShredRootKeyRequest) => shredRootKey(core, req)),
  };
}
