// `certdesk seal verify-signature sig.der --data file`: checks a GB/T 38540 SES_Signature made with
// a seal (for example by the assistant's 签章) the way relying software would. Exit 0 only when every
// check passes; otherwise exit 1 and the first failed check by name, so a script can tell why.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { subjectString } from '../pki/certificate.js';
import { fromPemAll } from '../pki/pem.js';
import { verifySignature } from '../pki/ses-signature.js';
import { action, UsageError } from './errors.js';

function readInput(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UsageError(`${what} ${file}: ${(e as Error).message}`);
  }
}

export function registerSealSignatureCommand(seal: Command): void {
  seal
    .command('verify-signature')
    .description('verify a GB/T 38540 SES_Signature (DER or base64): the seal in it, the signer, and the document hash')
    .argument('<signature>', 'the SES_Signature file (DER, or base64 text)')
    .option('--data <file>', 'the signed document; its SM3 must equal the signature’s dataHash')
    .option('--maker-ca <pem>', 'CA certificate(s) one of which must have issued the seal maker’s certificate')
    .action(
      action(async (file: string, opts: { data?: string; makerCa?: string }) => {
        let input = readInput(file, 'signature');
        // base64 text (what the assistant's API returns) is accepted as well as DER
        if (input[0] !== 0x30) input = Buffer.from(input.toString('latin1').replace(/\s+/g, ''), 'base64');
        const data = opts.data ? readInput(opts.data, '--data') : undefined;
        const makerIssuers = opts.makerCa
          ? fromPemAll(readInput(opts.makerCa, '--maker-ca').toString('latin1'), 'CERTIFICATE')
          : undefined;
        const r = verifySignature(input, { ...(data ? { data } : {}), ...(makerIssuers ? { makerIssuers } : {}) });
        if (!r.ok) {
          process.stdout.write(`INVALID: ${r.failedCheck}: ${r.reason}\n`);
          process.exitCode = 1;
          return;
        }
        const s = r.signature;
        process.stdout.write(
          `VALID: seal ${s.seal.esId} (${s.seal.name}) signed by ${subjectString(r.signer)} serial ${r.signer.serialHex} at ${s.timeInfo.toISOString()}\n` +
            `dataHash (SM3) ${s.dataHash.toString('hex')}${data ? ' matches the document' : ' (document not checked: no --data)'}\n` +
            `propertyInfo ${s.propertyInfo}\n`,
        );
      }),
    );
}
