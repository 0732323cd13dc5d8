// What a WorkOS directory user's attributes are read from by default: its `custom_attributes`,
// under the names of WorkOS's predefined attributes (docs: directory-sync/attributes).
import type { AttributeMapping } from '../../directory/attributes.js';

export const workosDefaultAttributes: readonly AttributeMapping[] = [
  { name: 'department', path: 'custom_attributes.department_name' },
  { name: 'employeeNumber', path: 'custom_attributes.employee_number' },
  { name: 'costCenter', path: 'custom_attributes.cost_center_name' },
  { name: 'organization', path: 'custom_attributes.organization' },
  { name: 'division', path: 'custom_attributes.division_name' },
  { name: 'manager', path: 'custom_attributes.manager_email' },
  { name: 'title', path: 'custom_attributes.job_title' },
];
