// RNG Retrieve — KMIP 1.4 §4.35 (1.2+): random bytes from key-lifecycle's
// operating-system CSPRNG.
import { rngRetrieve as codec } from '@keywarden/kmip';
import { defineOperation } from './context';
import { lifecycleCall } from './crypto-calls';

export const rngRetrieve = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    const r = await lifecycleCall(ctx, 'rngRetrieve', 'RNG Retrieve')({ caller: ctx.caller, dataLength: p.dataLength });
    return { data: Buffer.from(r.data) };
  },
});
