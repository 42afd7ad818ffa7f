// The PKCS#11 layer: modules and sessions, key pairs, objects. See module.ts for the lifecycle.
export { Pkcs11Error, type Pkcs11ErrorCode } from './errors.js';
export {
  closeAllModules,
  closeModule,
  listTokens,
  openModule,
  openTokenSession,
  Pkcs11Module,
  TokenSession,
  type ModuleInfo,
  type TokenFlags,
  type TokenInfo,
  type TokenSelector,
} from './module.js';
export {
  deleteKeyPair,
  ecSpki,
  findKeyPair,
  findKeyPairs,
  generateKeyPair,
  publicKeySpki,
  rsaSpki,
  TokenKeyPair,
  unwrapEcPoint,
  type GenerateKeyPairOptions,
  type KeyFilter,
} from './keys.js';
export {
  deleteCertificates,
  deleteObjects,
  listObjects,
  readCertificate,
  readCertificates,
  setLabel,
  writeCertificate,
  type CertificateObject,
  type ObjectClassName,
  type ObjectFilter,
  type ObjectInfo,
  type WriteCertificateOptions,
} from './objects.js';
export { deleteDataObject, readDataObjects, relabelDataObject, writeDataObject, type DataObject } from './data-objects.js';
