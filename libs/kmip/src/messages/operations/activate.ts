// Activate — KMIP 1.4 §4.19; KMIP 2.1 §6.1.1: the request names the object, the response its uid.
import { Operation } from '../../generated';
import { uidOperation } from './common';

export const activate = uidOperation(Operation.Activate);
