// What every page needs: the portal's configuration, the session, the key assistant client.
import { createContext, useContext } from 'react';
import type { AgentClient } from './agent';
import type { PortalConfig, Session } from './api';

/** Which key and certificate the holder logged in with (not secret; kept for this tab only). */
export interface LoginKey {
  tokenId: string;
  tokenLabel: string;
  certificateId: string;
  serial: string;
}

export interface AppState {
  config: PortalConfig;
  session: Session | null;
  agent: AgentClient | null;
  loginKey: LoginKey | null;
  /** after a successful login */
  loggedIn: (s: Session, key: LoginKey) => void;
  /** ends the session (server logout) and shows `notice` on the login page */
  logout: (notice?: string) => Promise<void>;
  /** the holder has connected to the assistant from a click in this tab: background calls are fine now */
  agentConnected: boolean;
  setAgentConnected: (v: boolean) => void;
  /** a message for the login page (why the session ended) */
  notice: string | null;
  setNotice: (n: string | null) => void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const s = useContext(AppContext);
  if (!s) throw new Error('AppContext missing');
  return s;
}

const LOGIN_KEY = 'certdesk.loginKey';
const CONNECTED = 'certdesk.agentConnected';

export function loadLoginKey(): LoginKey | null {
  try {
    const v = window.sessionStorage.getItem(LOGIN_KEY);
    return v ? (JSON.parse(v) as LoginKey) : null;
  } catch {
    return null;
  }
}

export function storeLoginKey(k: LoginKey | null): void {
  try {
    if (k) window.sessionStorage.setItem(LOGIN_KEY, JSON.stringify(k));
    else window.sessionStorage.removeItem(LOGIN_KEY);
  } catch {
    // ignore
  }
}

export function loadConnected(): boolean {
  try {
    return window.sessionStorage.getItem(CONNECTED) === '1';
  } catch {
    return false;
  }
}

export function storeConnected(v: boolean): void {
  try {
    if (v) window.sessionStorage.setItem(CONNECTED, '1');
    else window.sessionStorage.removeItem(CONNECTED);
  } catch {
    // ignore
  }
}
