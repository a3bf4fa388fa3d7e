// Create — KMIP 1.4 spec §4.1: a new symmetric key, generated and sealed
// under the tenant's root key by the key service.
import { CodecReason, CreateRequest, CreateResponse, KmipError, ObjectType } from '@keywarden/kmip';
import { toProtoAttribute } from '../convert';
import { Handler } from './context';

export const create: Handler = async (ctx, p: CreateRequest): Promise<CreateResponse> => {
  if (p.objectType !== ObjectType.SymmetricKey) {
    throw new KmipError(CodecReason.InvalidField, 'Create supports Object Type Symmetric Key only');
  }
  const r = await ctx.backend.create({ caller: ctx.caller, objectType: p.objectType, attributes: p.attributes.map(toProtoAttribute) });
  ctx.idPlaceholder = r.uniqueIdentifier;
  return { objectType: p.objectType, uniqueIdentifier: r.uniqueIdentifier };
};
