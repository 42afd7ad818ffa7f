// E-mail over SMTP (nodemailer). The transport is made once per process from SMTP_URL.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../config/config.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  attachments?: { filename: string; content: string | Buffer; contentType: string }[];
}

export interface Mailer {
  send(m: MailMessage): Promise<void>;
}

export function smtpMailer(config: Config): Mailer {
  let transport: Transporter | undefined;
  return {
    async send(m) {
      if (!config.smtpUrl) throw new Error('SMTP_URL is not set: the mail waits in the outbox');
      transport ??= nodemailer.createTransport(config.smtpUrl);
      await transport.sendMail({ from: config.smtpFrom, to: m.to, subject: m.subject, text: m.text, attachments: m.attachments });
    },
  };
}
