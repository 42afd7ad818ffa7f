// The CA's configuration of the key assistant: which portal origins may use it, the CA's roots, the
// key vendors' PKCS#11 modules to look for. The CA makes it with `certdesk agent-config sign`; it is
// installed beside the binary (certdesk-agent.json) with the CA's detached signature
// (certdesk-agent.json.p7s), so the holder types none of it and an edited file is refused at start.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DetachedSignatureError, verifyDetachedSignature } from '../../pki/detached-signature.js';
import { isWebOrigin } from '../../pki/login-challenge.js';
import { oidProblem } from '../../pki/oids.js';
import { fromPemAll } from '../../pki/pem.js';

export const AGENT_CONFIG_FILE = 'certdesk-agent.json';
export const AGENT_CONFIG_FORMAT = 'certdesk-agent-config/1';
export const signatureFileOf = (file: string): string => `${file}.p7s`;

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

const pemCertificate = z.string().refine((s) => s.includes('-----BEGIN CERTIFICATE-----'), 'must be a PEM certificate');

export const agentCaConfigSchema = z.strictObject({
  format: z.literal(AGENT_CONFIG_FORMAT),
  /** the CA's name, shown in the assistant's log */
  ca: z.string().min(1).max(200),
  /** the holder portal, for links from the assistant's page */
  portalUrl: z.string().refine((s) => /^https?:\/\//.test(s), 'must be an http(s) URL'),
  allowOrigins: z
    .array(z.string().refine(isWebOrigin, 'must be an origin like https://portal.example (no path)'))
    .min(1, 'needs at least one portal origin'),
  caRoots: z.array(pemCertificate).min(1, 'needs the CA root certificate'),
  /** key vendors' PKCS#11 modules, used when present on the machine */
  pkcs11Modules: z.array(z.string().min(1)).default([]),
  uniqueIdOid: z
    .string()
    .refine((s) => oidProblem(s) === null, 'must be a dotted OID')
    .optional(),
  signedAt: z.string(),
});
export type AgentCaConfig = z.infer<typeof agentCaConfigSchema>;

/** Where the packaged assistant looks for its configuration: beside its own executable. */
export function configBesideExecutable(): string {
  return path.join(path.dirname(process.execPath), AGENT_CONFIG_FILE);
}

/** Parses and checks a configuration's JSON text (no signature check); throws naming the field. */
export function parseAgentCaConfig(text: string, file: string): AgentCaConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AgentConfigError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const r = agentCaConfigSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new AgentConfigError(`${file}: ${issue.path.join('.') || '(top level)'} ${issue.message}`);
  }
  return r.data;
}

/**
 * Reads `file` and its signature `file.p7s` and checks that the CA signed exactly these bytes with
 * a key its root (in the file) certifies. Anything else — no signature, another signer, a changed
 * byte — throws AgentConfigError saying so; the assistant then does not start.
 */
export function loadAgentCaConfig(file: string, now = new Date()): AgentCaConfig {
  const sigFile = signatureFileOf(file);
  let body: Buffer;
  try {
    body = readFileSync(file);
  } catch (e) {
    throw new AgentConfigError(
      `cannot read the CA configuration ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (!existsSync(sigFile))
    throw new AgentConfigError(
      `the CA configuration ${file} has no signature ${sigFile}: refusing to use an unsigned configuration`,
    );
  const config = parseAgentCaConfig(body.toString('utf8'), file);
  const roots = config.caRoots.flatMap((p) => fromPemAll(p, 'CERTIFICATE'));
  try {
    verifyDetachedSignature(readFileSync(sigFile), body, roots, now);
  } catch (e) {
    if (e instanceof DetachedSignatureError)
      throw new AgentConfigError(`the CA configuration ${file} is not signed by its CA (${sigFile}): ${e.message}`);
    throw e;
  }
  return config;
}
