/**
 * Whether an instrument's `evidence` is something an auditor can check: a document or record
 * reference with its number ("contract GP-17, settlement 2024-06", "retirement record
 * R-2026-0042"), or a URL (registry entry, scanned contract). Free text such as "x", "yes" or
 * "see contract" proves nothing, and under the Scope 2 Quality Criteria an unproven MWh must not be
 * claimed (runtime/accounting/README.md, "Missing evidence is an error").
 */

/** Shortest evidence text accepted (after trimming). */
export const MIN_EVIDENCE_CHARS = 6;
/** Longest evidence text accepted. */
export const MAX_EVIDENCE_CHARS = 500;

const URL_RE = /\bhttps?:\/\/[^\s/$.?#][^\s]*/i;
/** A reference token: at least 3 characters, at least one digit (a contract / record / certificate number or a date). */
const REFERENCE_RE = /(?:^|[\s,;:(\[])(?=[^\s,;()\[\]]*\d)[^\s,;()\[\]]{3,}/u;

/** Why `evidence` is not checkable, or undefined when it is. */
export function evidenceProblem(evidence: string): string | undefined {
  const text = evidence.trim();
  const hint = 'give the document reference with its number (e.g. "contract GP-17, settlement 2024-06", "retirement record R-2026-0042"), a URL, or the certificate serials';
  if (text.length < MIN_EVIDENCE_CHARS) return `evidence ${JSON.stringify(evidence)} is too short to be checked (at least ${MIN_EVIDENCE_CHARS} characters): ${hint}`;
  if (text.length > MAX_EVIDENCE_CHARS) return `evidence is longer than ${MAX_EVIDENCE_CHARS} characters: ${hint}`;
  if (!URL_RE.test(text) && !REFERENCE_RE.test(text)) return `evidence ${JSON.stringify(evidence)} names no document number or URL: ${hint}`;
  return undefined;
}
