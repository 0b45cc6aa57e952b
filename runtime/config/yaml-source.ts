import { LineCounter, parseDocument, isNode, visit, type Document } from 'yaml';
import type { ConfigIssue } from './errors.js';

/** A parsed YAML/JSON file that can say on which line a JSON-pointer path lives. */
export interface ParsedSource {
  file: string;
  value: unknown;
  /** Problems parsing the text itself (syntax errors). */
  syntaxIssues: ConfigIssue[];
  locate(path: string): { line?: number; column?: number };
}

function pointerToKeys(path: string): (string | number)[] {
  if (!path || path === '/') return [];
  return path
    .slice(1)
    .split('/')
    .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
}

/** Alias uses allowed per document: a config never needs many; a "billion laughs" file needs thousands. */
export const MAX_ALIAS_COUNT = 100;

/** Where the first alias of the document is (the place to look at when aliases expand too much). */
function firstAliasPos(doc: Document): number | undefined {
  let pos: number | undefined;
  visit(doc, {
    Alias(_, node) {
      pos = node.range?.[0];
      return visit.BREAK;
    },
  });
  return pos;
}

/** Parse YAML (JSON is YAML) keeping positions, so every issue can carry its line. */
export function parseSource(text: string, file: string): ParsedSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntaxIssues: ConfigIssue[] = doc.errors.map((e) => {
    const pos = e.pos ? lineCounter.linePos(e.pos[0]) : undefined;
    return { file, path: '', code: 'CE_CONFIG_YAML' as const, message: `YAML syntax: ${e.message.split('\n')[0]}`, line: pos?.line, column: pos?.col };
  });
  let value: unknown;
  if (!syntaxIssues.length) {
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      // The yaml library throws (a ReferenceError) when aliases expand past maxAliasCount.
      const at = firstAliasPos(doc);
      const pos = at === undefined ? undefined : lineCounter.linePos(at);
      const why = /alias/i.test((err as Error).message) ? `aliases expand to too many nodes (limit: ${MAX_ALIAS_COUNT} alias uses per document); write the values out` : (err as Error).message;
      syntaxIssues.push({ file, path: '', code: 'CE_CONFIG_YAML', message: `YAML: ${why}`, line: pos?.line, column: pos?.col });
    }
  }
  return {
    file,
    value,
    syntaxIssues,
    locate(path) {
      // Walk up until a node with a position exists (a missing key reports its parent).
      const keys = pointerToKeys(path);
      for (let n = keys.length; n >= 0; n--) {
        const node = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true);
        if (isNode(node) && node.range) {
          const pos = lineCounter.linePos(node.range[0]);
          return { line: pos.line, column: pos.col };
        }
      }
      return {};
    },
  };
}
