// Destroy — KMIP 1.4 §4.21; KMIP 2.1 §6.1.15: the request names the object, the response its uid.
import { Operation } from '../../generated';
import { uidOperation } from './common';

export const destroy = uidOperation(Operation.Destroy);
