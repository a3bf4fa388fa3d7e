// Modify Attribute — KMIP 1.4 §4.15; KMIP 2.1 §6.1.35 (Current Attribute names the instance to change).
import { Operation, Tag } from '../../generated';
import { attributeOperation } from './attribute-change';

export const modifyAttribute = attributeOperation(Operation.ModifyAttribute, Tag.NewAttribute);
