// The journaled renewal install on SoftHSM2 (PKCS#11), with the assistant SIGKILLed after every step;
// pkcs11-tool (OpenSC) checks what is left on the token.
import { renewalFaultSuite } from './helpers/agent.js';

renewalFaultSuite('pkcs11');
