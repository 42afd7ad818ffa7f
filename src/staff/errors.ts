// Errors the staff services report: a stable code, the HTTP status it maps to, the field at fault,
// and the message in both languages of the staff console (English, and Chinese for zh-* clients).

/** A message in English and Chinese (简体中文). */
export interface Text {
  en: string;
  zh: string;
}

export type StaffLang = 'en' | 'zh';

export class StaffError extends Error {
  /** The Chinese message; `message` is the English one. */
  readonly zh: string;

  constructor(
    readonly status: number,
    readonly code: string,
    text: Text,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(text.en);
    this.name = 'StaffError';
    this.zh = text.zh;
  }

  messageIn(lang: StaffLang): string {
    return lang === 'zh' && this.zh ? this.zh : this.message;
  }
}

/** The language of an Accept-Language header: Chinese when its first language is zh*, else English. */
export function staffLang(acceptLanguage: string | undefined): StaffLang {
  const first = (acceptLanguage ?? '').split(',')[0]!.trim().toLowerCase();
  return first.startsWith('zh') ? 'zh' : 'en';
}

export const invalid = (text: Text, field?: string): StaffError => new StaffError(400, 'invalid', text, field);
export const notFound = (text: Text): StaffError => new StaffError(404, 'not_found', text);
export const conflict = (code: string, text: Text, field?: string): StaffError => new StaffError(409, code, text, field);
