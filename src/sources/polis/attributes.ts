// What a Polis user's attributes are read from by default: the SCIM enterprise extension of the
// SCIM user Polis passes on as `raw` (Okta and Entra both send it under its URN).
import type { AttributeMapping } from '../../directory/attributes.js';

const ENTERPRISE = 'raw.urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export const polisDefaultAttributes: readonly AttributeMapping[] = [
  { name: 'department', path: `${ENTERPRISE}.department` },
  { name: 'employeeNumber', path: `${ENTERPRISE}.employeeNumber` },
  { name: 'costCenter', path: `${ENTERPRISE}.costCenter` },
  { name: 'organization', path: `${ENTERPRISE}.organization` },
  { name: 'division', path: `${ENTERPRISE}.division` },
  { name: 'manager', path: `${ENTERPRISE}.manager.value` },
  { name: 'title', path: 'raw.title' },
];
