// The journaled renewal install on a soft token, with the assistant SIGKILLed after every step.
import { renewalFaultSuite } from './helpers/agent.js';

renewalFaultSuite('soft');
