// The order state machine. Every transition the system makes is listed here; the SA applies them
// with a conditional UPDATE (… WHERE state = from), so a transition happens at most once even when
// several instances or retries race.
import type { OrderState } from '../sa/schema.js';

export const TRANSITIONS: Record<OrderState, OrderState[]> = {
  // in lifecycle order: the staff console lists the states in this order
  awaiting_payment: ['paid', 'cancelled', 'expired'],
  paid: ['issuing', 'refunded'],
  issuing: ['issued'],
  issued: ['installed'],
  installed: ['completed'],
  completed: [],
  cancelled: [],
  // a payment that arrives after expiry is still money received: it pays the order
  expired: ['paid'],
  refunded: [],
};

export const OPEN_STATES: OrderState[] = ['awaiting_payment', 'paid', 'issuing', 'issued', 'installed'];
export const PAID_STATES: OrderState[] = ['paid', 'issuing', 'issued', 'installed', 'completed'];

export function canTransition(from: OrderState, to: OrderState): boolean {
  return TRANSITIONS[from].includes(to);
}
