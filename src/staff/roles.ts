// Staff roles and what each may do. Every staff route names the permission it needs and the
// server checks it (least privilege): an account holds one or more roles, and may do what any
// of them allows.
import type { StaffRole } from '../sa/schema.js';

export const ROLES: readonly StaffRole[] = ['operator', 'reviewer', 'auditor', 'admin', 'kmc'];

export type Permission =
  | 'orders.read'
  | 'payments.confirm'
  | 'statements.import'
  | 'orders.cancel'
  | 'orders.refund'
  | 'invoices.read'
  | 'invoices.mail'
  | 'certificates.read'
  | 'certificates.revoke'
  | 'reviews.decide'
  | 'audit.read'
  | 'catalogue.read'
  | 'catalogue.write'
  | 'staff.manage'
  | 'kmc.recover'
  /** the outbox: see messages, retry dead ones */
  | 'outbox.manage';

const GRANTS: Record<StaffRole, readonly Permission[]> = {
  // orders, payments, invoices; revokes on a holder's request
  operator: [
    'orders.read',
    'payments.confirm',
    'statements.import',
    'orders.cancel',
    'orders.refund',
    'invoices.read',
    'invoices.mail',
    'certificates.read',
    'certificates.revoke',
    'catalogue.read',
    'outbox.manage',
  ],
  // approves requests that need review (later issues); reads what a decision needs
  reviewer: ['orders.read', 'certificates.read', 'reviews.decide', 'catalogue.read'],
  // read-only: the audit log, and the records it refers to
  auditor: ['audit.read', 'orders.read', 'invoices.read', 'certificates.read', 'catalogue.read'],
  // accounts, catalogue, settings
  admin: ['staff.manage', 'catalogue.read', 'catalogue.write', 'audit.read', 'outbox.manage'],
  // key recovery officer: the only role that may take an escrowed encryption key out of the KMC
  kmc: ['kmc.recover', 'certificates.read'],
};

/**
 * Roles one account may not hold together (separation of duties): an admin, who manages accounts,
 * cannot also recover escrowed keys.
 */
export const EXCLUSIVE_ROLES: readonly (readonly [StaffRole, StaffRole])[] = [['admin', 'kmc']];

export function isRole(r: string): r is StaffRole {
  return (ROLES as readonly string[]).includes(r);
}

export function parseRoles(text: string): StaffRole[] {
  return text
    .split(',')
    .map((r) => r.trim())
    .filter(isRole);
}

export function permissionsOf(roles: readonly StaffRole[]): Set<Permission> {
  return new Set(roles.flatMap((r) => GRANTS[r]));
}

export function can(roles: readonly StaffRole[], p: Permission): boolean {
  return roles.some((r) => GRANTS[r].includes(p));
}
