// Add Attribute — KMIP 1.4 §4.14; KMIP 2.1 §6.1.2.
import { Operation, Tag } from '../../generated';
import { attributeOperation } from './attribute-change';

export const addAttribute = attributeOperation(Operation.AddAttribute, Tag.NewAttribute);
