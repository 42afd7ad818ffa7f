// Every string the portal shows, in zh-CN (the default, with the seed manual's labels exactly) and
// English. `t('key', { name: value })` fills {name} placeholders.
import { createContext, useContext } from 'react';
import { en } from './i18n-en';
import { zh, type MessageKey } from './i18n-zh';

export type { MessageKey };

export type Lang = 'zh' | 'en';
export const DICTIONARIES: Record<Lang, Record<MessageKey, string>> = { zh, en };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  const dict = DICTIONARIES[lang];
  return (key, vars) => {
    let s = dict[key] ?? key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
    return s;
  };
}

/** A key built at run time (an error code, a state): falls back when the dictionary lacks it. */
export function hasKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(zh, key);
}

const LANG_KEY = 'certdesk.lang';

export function initialLang(): Lang {
  try {
    const v = window.localStorage.getItem(LANG_KEY);
    if (v === 'en' || v === 'zh') return v;
  } catch {
    // storage unavailable (private mode): default
  }
  return 'zh';
}

export function storeLang(lang: Lang): void {
  try {
    window.localStorage.setItem(LANG_KEY, lang);
  } catch {
    // ignore
  }
}

export interface I18n {
  lang: Lang;
  t: Translate;
  setLang: (l: Lang) => void;
}

export const I18nContext = createContext<I18n>({ lang: 'zh', t: translator('zh'), setLang: () => undefined });

export const useI18n = (): I18n => useContext(I18nContext);
