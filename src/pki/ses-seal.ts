// Electronic seals (电子印章): GB/T 38540-2020 SESeal v4, which we make, and the GM/T 0031-2014
// layout ("v2": its header usually says 2), which we read so a CA migrating old seals can check
// them. ASN.1 and what is signed: docs/ARCHITECTURE.md#seals (from SEALS.md). Pure codec: the
// assistant imports it, so nothing here reaches the CA.
import * as der from './der.js';
import { OID } from './oids.js';

export const SES_HEADER_ID = 'ES';
export const SES_VERSION = 4;
/** certListType 1: the holder's signing certificates themselves (2 would be their digests) */
export const CERT_LIST_CERTIFICATES = 1;

export class SealFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealFormatError';
  }
}

export interface SealPicture {
  /** lowercase, as verifiers in the field compare it case-insensitively: 'png', 'ofd', … */
  type: string;
  data: Buffer;
  widthMm: number;
  heightMm: number;
}

export interface SealInfoInput {
  vendorId: string;
  esId: string;
  /** the business seal type (our catalogue's number for 单位公章, 合同专用章 …) */
  type: number;
  name: string;
  /** DER X.509 signing certificates of the holder (certListType 1) */
  holderCerts: Buffer[];
  createDate: Date;
  validStart: Date;
  validEnd: Date;
  picture: SealPicture;
}

export interface ParsedSeal {
  /** 4 for GB/T 38540 (and 5 for GM/T 0031-2025), 2 for the GM/T 0031-2014 layout */
  version: number;
  layout: 'v4' | 'v2';
  vendorId: string;
  esId: string;
  type: number;
  name: string;
  certListType: number;
  /** the holder certificates (certListType 1) or certificate digests (2) */
  certList: Buffer[];
  createDate: Date;
  validStart: Date;
  validEnd: Date;
  picture: SealPicture;
  makerCert: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
  /** the bytes the maker signed: SES_SealInfo (v4), SEQUENCE { sealInfo, cert, alg } (v2) */
  signedBytes: Buffer;
  sealInfoDer: Buffer;
  der: Buffer;
}

const MAX_ESID = 64;

/** The DER of SES_SealInfo: what the maker signs for a v4 seal. */
export function encodeSealInfo(s: SealInfoInput): Buffer {
  if (!/^[\x20-\x7e]{1,64}$/.test(s.esId)) throw new SealFormatError(`esID must be 1–${MAX_ESID} printable ASCII characters`);
  if (!/^[\x20-\x7e]{1,64}$/.test(s.vendorId)) throw new SealFormatError('vendor id must be printable ASCII');
  if (s.holderCerts.length === 0) throw new SealFormatError('a seal names at least one holder certificate');
  if (!(s.validStart < s.validEnd)) throw new SealFormatError('validStart must be before validEnd');
  if (
    !Number.isInteger(s.picture.widthMm) ||
    !Number.isInteger(s.picture.heightMm) ||
    s.picture.widthMm <= 0 ||
    s.picture.heightMm <= 0
  )
    throw new SealFormatError('picture width and height are whole millimetres');
  return der.seq(
    der.seq(der.ia5String(SES_HEADER_ID), der.int(SES_VERSION), der.ia5String(s.vendorId)),
    der.ia5String(s.esId),
    der.seq(
      der.int(s.type),
      der.utf8String(s.name),
      der.int(CERT_LIST_CERTIFICATES),
      der.seq(...s.holderCerts.map((c) => der.octetString(c))),
      der.generalizedTime(s.createDate),
      der.generalizedTime(s.validStart),
      der.generalizedTime(s.validEnd),
    ),
    der.seq(
      der.ia5String(s.picture.type.toLowerCase()),
      der.octetString(s.picture.data),
      der.int(s.picture.widthMm),
      der.int(s.picture.heightMm),
    ),
  );
}

/** SESeal v4 from the signed SES_SealInfo, the maker's certificate and its SM2 signature (DER r,s). */
export function assembleSeal(sealInfoDer: Buffer, makerCertDer: Buffer, signature: Buffer): Buffer {
  return der.seq(sealInfoDer, der.octetString(makerCertDer), der.oid(OID.sm2WithSM3), der.bitString(signature));
}

function fail(what: string, e: unknown): never {
  throw new SealFormatError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
}

function readTimeLenient(n: der.Node | undefined, what: string): Date {
  // 0031-2014 says UTCTime; seals in the field also carry GeneralizedTime
  if (!n || (n.tag !== der.Tag.UTC_TIME && n.tag !== der.Tag.GENERALIZED_TIME)) throw new SealFormatError(`${what}: not a time`);
  return der.decodeTime(n);
}

function readSealInfo(node: der.Node, layout: 'v4' | 'v2') {
  const [header, esId, property, picture] = der.children(der.expect(node, der.Tag.SEQUENCE, 'SES_SealInfo'));
  const [hid, hver, hvid] = der.children(der.expect(header, der.Tag.SEQUENCE, 'SES_Header'));
  const id = der.decodeString(der.expect(hid, der.Tag.IA5_STRING, 'SES_Header.id'));
  if (id !== SES_HEADER_ID) throw new SealFormatError(`SES_Header.id is ${JSON.stringify(id)}, not "ES"`);
  const version = der.decodeSmallInt(der.expect(hver, der.Tag.INTEGER, 'SES_Header.version'));
  const vendorId = der.decodeString(der.expect(hvid, der.Tag.IA5_STRING, 'SES_Header.vid'));
  const p = der.children(der.expect(property, der.Tag.SEQUENCE, 'SES_ESPropertyInfo'));
  let i = 0;
  const type = der.decodeSmallInt(der.expect(p[i++], der.Tag.INTEGER, 'property.type'));
  const name = der.decodeString(der.expect(p[i++], der.Tag.UTF8_STRING, 'property.name'));
  let certListType = CERT_LIST_CERTIFICATES;
  if (layout === 'v4') certListType = der.decodeSmallInt(der.expect(p[i++], der.Tag.INTEGER, 'property.certListType'));
  const list = der.children(der.expect(p[i++], der.Tag.SEQUENCE, 'property.certList'));
  let certList: Buffer[];
  if (certListType === 1)
    certList = list.map((c) => Buffer.from(der.content(der.expect(c, der.Tag.OCTET_STRING, 'certList entry'))));
  else if (certListType === 2)
    certList = list.map((c) => {
      const [, value] = der.children(der.expect(c, der.Tag.SEQUENCE, 'CertDigestObj'));
      return Buffer.from(der.content(der.expect(value, der.Tag.OCTET_STRING, 'CertDigestObj.value')));
    });
  else throw new SealFormatError(`property.certListType ${certListType} is neither 1 (certificates) nor 2 (digests)`);
  const createDate = readTimeLenient(p[i++], 'property.createDate');
  const validStart = readTimeLenient(p[i++], 'property.validStart');
  const validEnd = readTimeLenient(p[i++], 'property.validEnd');
  const [ptype, pdata, pw, ph] = der.children(der.expect(picture, der.Tag.SEQUENCE, 'SES_ESPictrueInfo'));
  return {
    version,
    vendorId,
    esId: der.decodeString(der.expect(esId, der.Tag.IA5_STRING, 'esID')),
    type,
    name,
    certListType,
    certList,
    createDate,
    validStart,
    validEnd,
    picture: {
      type: der.decodeString(der.expect(ptype, der.Tag.IA5_STRING, 'picture.type')).toLowerCase(),
      data: Buffer.from(der.content(der.expect(pdata, der.Tag.OCTET_STRING, 'picture.data'))),
      widthMm: der.decodeSmallInt(der.expect(pw, der.Tag.INTEGER, 'picture.width')),
      heightMm: der.decodeSmallInt(der.expect(ph, der.Tag.INTEGER, 'picture.height')),
    },
  };
}

/**
 * Parses an SESeal of either layout, told apart by structure (SEALS.md 1.8): 4 or 5 elements is
 * GB/T 38540 (v5 adds a time stamp), 2 is GM/T 0031-2014. Throws SealFormatError saying what is wrong.
 */
export function parseSeal(input: Buffer): ParsedSeal {
  let top: der.Node;
  try {
    top = der.parse(input);
  } catch (e) {
    fail('not a DER seal', e);
  }
  if (top.tag !== der.Tag.SEQUENCE) throw new SealFormatError('not a seal: SESeal is a SEQUENCE');
  try {
    const parts = der.children(top);
    if (parts.length === 4 || parts.length === 5) {
      const [info, cert, alg, sig] = parts;
      const sealInfo = readSealInfo(info!, 'v4');
      return {
        ...sealInfo,
        layout: 'v4',
        makerCert: Buffer.from(der.content(der.expect(cert, der.Tag.OCTET_STRING, 'SESeal.cert'))),
        signatureAlgorithm: der.decodeOid(der.expect(alg, der.Tag.OID, 'SESeal.signAlgID')),
        signature: Buffer.from(der.decodeBitString(sig!)),
        signedBytes: Buffer.from(der.raw(info!)),
        sealInfoDer: Buffer.from(der.raw(info!)),
        der: Buffer.from(der.raw(top)),
      };
    }
    if (parts.length === 2) {
      const [info, signInfo] = parts;
      const sealInfo = readSealInfo(info!, 'v2');
      const [cert, alg, sig] = der.children(der.expect(signInfo, der.Tag.SEQUENCE, 'SES_SignInfo'));
      const certNode = der.expect(cert, der.Tag.OCTET_STRING, 'SES_SignInfo.cert');
      const algNode = der.expect(alg, der.Tag.OID, 'SES_SignInfo.signatureAlgorithm');
      return {
        ...sealInfo,
        layout: 'v2',
        makerCert: Buffer.from(der.content(certNode)),
        signatureAlgorithm: der.decodeOid(algNode),
        signature: Buffer.from(der.decodeBitString(sig!)),
        // 0031-2014 signs SEQUENCE { esealInfo, cert, signatureAlgorithm }
        signedBytes: der.seq(der.raw(info!), der.raw(certNode), der.raw(algNode)),
        sealInfoDer: Buffer.from(der.raw(info!)),
        der: Buffer.from(der.raw(top)),
      };
    }
    throw new SealFormatError(`SESeal has ${parts.length} elements: neither GB/T 38540 (4–5) nor GM/T 0031-2014 (2)`);
  } catch (e) {
    if (e instanceof SealFormatError) throw e;
    fail('malformed seal', e);
  }
}

/** Builds a GM/T 0031-2014 seal, for reading tests and migration fixtures (we make only v4). */
export function encodeLegacySealInfo(s: SealInfoInput): Buffer {
  return der.seq(
    der.seq(der.ia5String(SES_HEADER_ID), der.int(2), der.ia5String(s.vendorId)),
    der.ia5String(s.esId),
    der.seq(
      der.int(s.type),
      der.utf8String(s.name),
      der.seq(...s.holderCerts.map((c) => der.octetString(c))),
      der.utcTime(s.createDate),
      der.utcTime(s.validStart),
      der.utcTime(s.validEnd),
    ),
    der.seq(
      der.ia5String(s.picture.type),
      der.octetString(s.picture.data),
      der.int(s.picture.widthMm),
      der.int(s.picture.heightMm),
    ),
  );
}

/** The bytes a 0031-2014 maker signs, and the seal assembled around its signature. */
export function legacySignedBytes(sealInfoDer: Buffer, makerCertDer: Buffer): Buffer {
  return der.seq(sealInfoDer, der.octetString(makerCertDer), der.oid(OID.sm2WithSM3));
}
export function assembleLegacySeal(sealInfoDer: Buffer, makerCertDer: Buffer, signature: Buffer): Buffer {
  return der.seq(sealInfoDer, der.seq(der.octetString(makerCertDer), der.oid(OID.sm2WithSM3), der.bitString(signature)));
}
