/**
 * The rule kinds, in the order of the schema's `kind` enum. A new kind is one file
 * `kinds/<kind>.ts` exporting its RuleKindDefinition, one line here, and one test
 * `test/rules/kinds/<kind>.test.ts` (rules/README.md, "Adding a rule kind").
 */
import { switchKind } from './switch.js';
import { setpointKind } from './setpoint.js';
import { surplusKind } from './surplus.js';
import { batteryKind } from './battery.js';
import { sgReadyKind } from './sg-ready.js';
import { exportLimitKind } from './export-limit.js';
import { peakShaveKind } from './peak-shave.js';

export const RULE_KINDS = [switchKind, setpointKind, surplusKind, batteryKind, sgReadyKind, exportLimitKind, peakShaveKind] as const;
