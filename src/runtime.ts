// Wiring for consolidated mode: one process holds the SA, the CA and the OCSP responder, reached by
// plain function calls. `certdesk serve` and every CLI command open the same runtime, so they share
// the database and the keys of DATA_DIR / DATABASE_URL.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { caKeyPassphrase, type Config } from './config/config.js';
import { CertificateAuthority } from './ca/authority.js';
import { defaultHierarchyFor, initHierarchy, type KeyFactory, type KeyPurpose } from './ca/hierarchy.js';
import { OcspResponder } from './ca/ocsp-responder.js';
import { loadProfiles } from './ca/profiles.js';
import { listCas } from './sa/cas.js';
import { exclusively, openDatabase, type Storage } from './sa/database.js';
import { openSigner } from './signer/open-signer.js';
import { closeAllModules } from './pkcs11/module.js';
import { SoftwareSigner } from './signer/software-signer.js';
import { Pkcs11Signer } from './signer/pkcs11-signer.js';
import type { KeyRef, Signer } from './signer/signer.js';
import type { KeyType } from './pki/algorithms.js';
import { SandboxGatewayAdapter } from './payments/sandbox/adapter.js';
import { sandboxKeys } from './payments/sandbox/keys.js';
import { RenewalService } from './ra/renewal-service.js';
import { SealApplications } from './ra/seal-applications.js';
import { ChangeRequests } from './ra/change-requests.js';
import { SealService } from './seal/seal-service.js';
import { KeyManagementCentre, kmcOptionsFrom } from './kmc/key-management-centre.js';
import type { KeyManagement } from './kmc/kmc-api.js';
import { UpgradeService } from './ra/upgrade-service.js';
import { AppEnablements } from './ra/app-enablements.js';

export interface Runtime {
  config: Config;
  storage: Storage;
  ca: CertificateAuthority;
  ocsp: OcspResponder;
  gateway: SandboxGatewayAdapter;
  renewals: RenewalService;
  /** 升级证书: the upgrades open to a certificate and the upgrade order */
  upgrades: UpgradeService;
  /** 应用开通: holders' enablements of relying applications */
  apps: AppEnablements;
  /** seal applications (印章申请): review, and making the seal once approved and paid */
  seals: SealApplications;
  /** changes of certificate details (变更证书): the request and its review; issuance goes through renewals */
  changes: ChangeRequests;
  /** the seal-making unit (制章者): makes, re-makes on renewal and revokes seals */
  sealService: SealService;
  /** this process among the instances sharing the database (host:pid:random), as job_runs names it */
  instanceId: string;
  /** the key management centre (SM2 encryption keys of dual certificates), opened with its master key */
  kmc: KeyManagement;
  /** A new CA key where `like` lives (software: encrypted with the passphrase this runtime opened its keys with). */
  newKeyLike(like: KeyRef, keyType: KeyType, purpose: KeyPurpose): Promise<Signer>;
  close(): Promise<void>;
}

/** The sandbox gateway adapter; a real gateway would be chosen here by configuration. */
function paymentGateway(config: Config): SandboxGatewayAdapter {
  const keys = sandboxKeys(config.dataDir);
  return new SandboxGatewayAdapter({
    merchantId: SANDBOX_MERCHANT_ID,
    publicGatewayUrl: config.publicUrl,
    apiGatewayUrl: config.internalUrl,
    notifyUrl: `${config.internalUrl}/api/payments/notify/sandbox`,
    merchantKey: keys.merchantPrivate,
    platformPublicKey: keys.platformPublic,
  });
}

export const SANDBOX_MERCHANT_ID = 'certdesk-demo-ca';

export function pkcs11Pin(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  const pin = env[config.pkcs11PinEnv];
  if (!pin)
    throw new Error(`the CA key is on a PKCS#11 token: set its user PIN in the environment variable ${config.pkcs11PinEnv}`);
  return pin;
}

/** Software CA keys under DATA_DIR/keys, encrypted with the CA key passphrase. */
export function softwareKeyFactory(config: Config, keyType: KeyType, pass = caKeyPassphrase(config)): KeyFactory {
  const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  return (purpose) =>
    SoftwareSigner.generate(config.dataDir, `keys/${purpose}-${stamp}-${randomUUID().slice(0, 8)}.p8`, keyType, pass);
}

/** A new CA key of `keyType` where `like` lives: encrypted under DATA_DIR, or on the same PKCS#11 token. */
async function newKeyLike(
  config: Config,
  passphrase: () => string,
  like: KeyRef,
  keyType: KeyType,
  purpose: KeyPurpose,
): Promise<Signer> {
  if (like.kind === 'software') return softwareKeyFactory(config, keyType, passphrase())(purpose, purpose);
  return Pkcs11Signer.generate({
    module: like.module,
    token: like.token,
    pin: pkcs11Pin(config),
    // the date, and a suffix: a second key of the day (a rotation) must not collide with the first
    label: `certdesk-${purpose}-${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 6)}`,
    keyType,
  });
}

export async function openRuntime(
  config: Config,
  opts: {
    createDemoCa?: boolean;
    log?: (msg: string, err?: unknown) => void;
  } = {},
): Promise<Runtime> {
  const storage = await openDatabase({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    databaseReadUrl: config.databaseReadUrl,
    log: opts.log,
  });
  // Read once, when a software key is first opened: keys opened or created later use the same one.
  let pass: string | undefined;
  const passphrase = (): string => (pass ??= caKeyPassphrase(config));
  try {
    const profiles = loadProfiles(config.profilesFile);
    if (opts.createDemoCa)
      await exclusively(storage, async () => {
        if ((await listCas(storage.db)).length > 0) return;
        opts.log?.('empty database: creating the demo CA hierarchies (software keys, ECDSA P-256 and SM2 side by side)');
        for (const keyType of ['ec-p256', 'sm2'] as const)
          await initHierarchy(storage, softwareKeyFactory(config, keyType, passphrase()), {
            ...defaultHierarchyFor(keyType),
            keyType,
            pkiUrl: config.pkiUrl,
            actor: 'system:first-start',
          });
      });
    // A missing or wrong master key stops the start here (the master key is created on first start).
    const kmc = await KeyManagementCentre.open(storage, {
      ...kmcOptionsFrom(config, () => pkcs11Pin(config)),
      create: true,
      log: opts.log,
    });
    const ca = await CertificateAuthority.load(storage, config, profiles, (ref) =>
      openSigner(ref, { dataDir: config.dataDir, passphrase, pkcs11Pin: () => pkcs11Pin(config) }),
    );
    const ocsp = new OcspResponder(ca, opts.log);
    const sealService = new SealService(storage, ca, {
      open: (ref) => openSigner(ref, { dataDir: config.dataDir, passphrase, pkcs11Pin: () => pkcs11Pin(config) }),
      newKeyLike: (like, keyType, purpose) => newKeyLike(config, passphrase, like, keyType, purpose),
    });
    const gateway = paymentGateway(config);
    const renewals = new RenewalService(
      storage,
      ca,
      gateway,
      {
        onlineOrderTtlMs: config.onlineOrderTtlMinutes * 60_000,
        offlineOrderTtlMs: config.offlineOrderTtlDays * 86_400_000,
        revokeSuperseded: config.revokeSuperseded,
        reuseEncryptionKey: config.reuseEncryptionKey,
      },
      kmc,
      sealService,
    );
    const upgrades = new UpgradeService(storage, ca, renewals.policy, (profile) => renewals.certificateType(profile));
    const apps = new AppEnablements(storage, renewals.policy);
    const seals = new SealApplications(storage, {
      onlineOrderTtlMs: config.onlineOrderTtlMinutes * 60_000,
      offlineOrderTtlMs: config.offlineOrderTtlDays * 86_400_000,
      makeSeal: async (input) => ({ esId: (await sealService.makeSeal(input)).es_id }),
      ...(opts.log ? { log: opts.log } : {}),
    });
    const changes = new ChangeRequests(storage, ca, {
      onlineOrderTtlMs: config.onlineOrderTtlMinutes * 60_000,
      offlineOrderTtlMs: config.offlineOrderTtlDays * 86_400_000,
      // a change waits for its review as long as an offline order waits for its transfer
      reviewTtlMs: config.offlineOrderTtlDays * 86_400_000,
    });
    return {
      config,
      storage,
      ca,
      ocsp,
      gateway,
      renewals,
      upgrades,
      apps,
      seals,
      changes,
      sealService,
      instanceId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      kmc,
      newKeyLike: (like, keyType, purpose) => newKeyLike(config, passphrase, like, keyType, purpose),
      async close() {
        kmc.close();
        await sealService.close();
        await ca.close();
        await storage.close();
        closeAllModules();
      },
    };
  } catch (e) {
    await storage.close();
    throw e;
  }
}
