// What a Stytch member's attributes are read from by default: the SCIM enterprise extension
// Stytch keeps on the member's SCIM registration (`scim_attributes.enterprise_extension`).
import type { AttributeMapping } from '../../directory/attributes.js';

const SCIM = 'scim_registration.scim_attributes';

export const stytchDefaultAttributes: readonly AttributeMapping[] = [
  { name: 'department', path: `${SCIM}.enterprise_extension.department` },
  { name: 'employeeNumber', path: `${SCIM}.enterprise_extension.employee_number` },
  { name: 'costCenter', path: `${SCIM}.enterprise_extension.cost_center` },
  { name: 'organization', path: `${SCIM}.enterprise_extension.organization` },
  { name: 'division', path: `${SCIM}.enterprise_extension.division` },
  { name: 'manager', path: `${SCIM}.enterprise_extension.manager.value` },
  { name: 'title', path: `${SCIM}.title` },
];
