import type { Logger } from '@keywarden/common';
import { CodecReason, KmipError, ProtocolVersion } from '@keywarden/kmip';
import type { LifecycleBackend } from '../backend';

export interface OpContext {
  backend: LifecycleBackend;
  caller: { certFingerprint: string };
  /** The version this request is answered in. */
  version: ProtocolVersion;
  /** KMIP ID Placeholder: the uid the previous batch item produced (KMIP 1.4 spec §4 intro). */
  idPlaceholder?: string;
  log: Logger;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (ctx: OpContext, payload: any) => Promise<any>;

/** The uid a request names, or the ID Placeholder; Missing Data when neither exists. */
export function targetUid(ctx: OpContext, uid: string | undefined): string {
  const u = uid ?? ctx.idPlaceholder;
  if (u === undefined) throw new KmipError(CodecReason.MissingData, 'Unique Identifier missing and no ID Placeholder is set');
  return u;
}
