// Typed PKCS#11 errors. pkcs11js throws errors whose message is the bare CKR_ name ("CKR_PIN_INCORRECT");
// callers need a stable code to branch on (retry the PIN, ask for the token) and an operator-readable
// message that says what was being done. No message built here ever contains a PIN.

export type Pkcs11ErrorCode =
  // mapped from CKR_ return values
  | 'PIN_INCORRECT'
  | 'PIN_LOCKED'
  | 'PIN_INVALID'
  | 'PIN_EXPIRED'
  | 'PIN_NOT_INITIALIZED'
  | 'TOKEN_NOT_PRESENT'
  | 'TOKEN_NOT_RECOGNIZED'
  | 'TOKEN_WRITE_PROTECTED'
  | 'DEVICE_REMOVED'
  | 'DEVICE_MEMORY'
  | 'DEVICE_ERROR'
  | 'NOT_LOGGED_IN'
  | 'LOGIN_CONFLICT'
  | 'SESSION_CLOSED'
  | 'SESSION_READ_ONLY'
  | 'MECHANISM_INVALID'
  | 'TEMPLATE_INVALID'
  | 'KEY_FUNCTION_NOT_PERMITTED'
  | 'CANCELED'
  | 'NOT_INITIALIZED'
  // raised by this layer
  | 'MODULE_LOAD_FAILED'
  | 'TOKEN_NOT_FOUND'
  | 'TOKEN_AMBIGUOUS'
  | 'KEY_NOT_FOUND'
  | 'KEY_AMBIGUOUS'
  | 'OBJECT_EXISTS'
  | 'OBJECT_AMBIGUOUS'
  | 'UNSUPPORTED_KEY'
  | 'INVALID_ARGUMENT'
  | 'CLOSED'
  | 'FAILED';

export class Pkcs11Error extends Error {
  constructor(
    message: string,
    readonly code: Pkcs11ErrorCode,
    /** the PKCS#11 return value name (CKR_…) when the error came from the module */
    readonly ckr?: string,
  ) {
    super(message);
    this.name = 'Pkcs11Error';
  }
}

const CKR_MAP: Record<string, [Pkcs11ErrorCode, string]> = {
  CKR_PIN_INCORRECT: ['PIN_INCORRECT', 'incorrect PIN'],
  CKR_PIN_LOCKED: ['PIN_LOCKED', 'the user PIN is locked (too many wrong attempts); the security officer must unblock it'],
  CKR_PIN_INVALID: ['PIN_INVALID', 'the PIN contains characters the token does not accept'],
  CKR_PIN_LEN_RANGE: ['PIN_INVALID', 'the PIN is too short or too long for this token'],
  CKR_PIN_EXPIRED: ['PIN_EXPIRED', 'the PIN has expired and must be changed'],
  CKR_USER_PIN_NOT_INITIALIZED: ['PIN_NOT_INITIALIZED', 'the token has no user PIN yet; initialize it first'],
  CKR_TOKEN_NOT_PRESENT: ['TOKEN_NOT_PRESENT', 'the token is not present in its slot'],
  CKR_TOKEN_NOT_RECOGNIZED: ['TOKEN_NOT_RECOGNIZED', 'the module does not recognize the token in the slot'],
  CKR_TOKEN_WRITE_PROTECTED: ['TOKEN_WRITE_PROTECTED', 'the token is write-protected'],
  CKR_DEVICE_REMOVED: ['DEVICE_REMOVED', 'the token was removed'],
  CKR_DEVICE_MEMORY: ['DEVICE_MEMORY', 'the token is out of memory'],
  CKR_DEVICE_ERROR: ['DEVICE_ERROR', 'the token reported a device error'],
  CKR_GENERAL_ERROR: ['DEVICE_ERROR', 'the module reported a general error'],
  CKR_FUNCTION_FAILED: ['DEVICE_ERROR', 'the module could not perform the function'],
  CKR_USER_NOT_LOGGED_IN: ['NOT_LOGGED_IN', 'not logged in to the token'],
  CKR_USER_ANOTHER_ALREADY_LOGGED_IN: ['LOGIN_CONFLICT', 'another user type is already logged in to the token'],
  CKR_USER_TOO_MANY_TYPES: ['LOGIN_CONFLICT', 'too many user types are logged in to the token'],
  CKR_SESSION_HANDLE_INVALID: ['SESSION_CLOSED', 'the session is no longer valid'],
  CKR_SESSION_CLOSED: ['SESSION_CLOSED', 'the session was closed'],
  CKR_SESSION_READ_ONLY: ['SESSION_READ_ONLY', 'the session is read-only'],
  CKR_MECHANISM_INVALID: ['MECHANISM_INVALID', 'the token does not support this mechanism'],
  CKR_MECHANISM_PARAM_INVALID: ['MECHANISM_INVALID', 'the token rejected the mechanism parameters'],
  CKR_KEY_TYPE_INCONSISTENT: ['MECHANISM_INVALID', 'the mechanism does not fit the key type'],
  CKR_KEY_SIZE_RANGE: ['TEMPLATE_INVALID', 'the token does not support this key size'],
  CKR_TEMPLATE_INCONSISTENT: ['TEMPLATE_INVALID', 'the token rejected the object attributes'],
  CKR_TEMPLATE_INCOMPLETE: ['TEMPLATE_INVALID', 'the object attributes are incomplete for this token'],
  CKR_ATTRIBUTE_VALUE_INVALID: ['TEMPLATE_INVALID', 'the token rejected an attribute value'],
  CKR_ATTRIBUTE_TYPE_INVALID: ['TEMPLATE_INVALID', 'the token does not know an attribute'],
  CKR_ATTRIBUTE_READ_ONLY: ['TEMPLATE_INVALID', 'the attribute cannot be changed on this token'],
  CKR_DOMAIN_PARAMS_INVALID: ['TEMPLATE_INVALID', 'the token does not support this curve'],
  CKR_CURVE_NOT_SUPPORTED: ['TEMPLATE_INVALID', 'the token does not support this curve'],
  CKR_KEY_FUNCTION_NOT_PERMITTED: ['KEY_FUNCTION_NOT_PERMITTED', 'the key is not allowed to perform this operation'],
  CKR_FUNCTION_CANCELED: ['CANCELED', 'the operation was canceled'],
  CKR_CRYPTOKI_NOT_INITIALIZED: ['NOT_INITIALIZED', 'the PKCS#11 module is not initialized'],
};

/**
 * Converts anything thrown by graphene/pkcs11js into a Pkcs11Error. `doing` says what was attempted
 * ("login to token \"CA\""). `secret` (a PIN) is scrubbed from any text taken from the native error,
 * in case a module ever echoes it.
 */
export function toPkcs11Error(e: unknown, doing: string, secret?: string): Pkcs11Error {
  if (e instanceof Pkcs11Error) return e;
  let text = e instanceof Error ? e.message : String(e);
  if (secret) text = text.split(secret).join('***');
  const ckr = /\bCKR_[A-Z0-9_]+/.exec(text)?.[0];
  if (ckr) {
    const hit = CKR_MAP[ckr];
    if (hit) return new Pkcs11Error(`${doing} failed: ${hit[1]} (${ckr})`, hit[0], ckr);
    return new Pkcs11Error(`${doing} failed: ${ckr}`, 'FAILED', ckr);
  }
  return new Pkcs11Error(`${doing} failed: ${text}`, 'FAILED');
}

/** Runs a synchronous native call and rethrows failures as Pkcs11Error. */
export function wrap<T>(doing: string, fn: () => T, secret?: string): T {
  try {
    return fn();
  } catch (e) {
    throw toPkcs11Error(e, doing, secret);
  }
}

/** Adapts a graphene callback-style call (which runs on the libuv thread pool) to a Promise. */
export function wrapAsync<T>(doing: string, start: (cb: (err: Error | null, value: T | null) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((err, value) => {
        if (err) reject(toPkcs11Error(err, doing));
        else if (value === null) reject(new Pkcs11Error(`${doing} failed: the module returned no result`, 'FAILED'));
        else resolve(value);
      });
    } catch (e) {
      reject(toPkcs11Error(e, doing));
    }
  });
}
