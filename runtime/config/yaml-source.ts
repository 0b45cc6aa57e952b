import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
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

/** Parse YAML (JSON is YAML) keeping positions, so every issue can carry its line. */
export function parseSource(text: string, file: string): ParsedSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntaxIssues: ConfigIssue[] = doc.errors.map((e) => {
    const pos = e.pos ? lineCounter.linePos(e.pos[0]) : undefined;
    return { file, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}`, line: pos?.line, column: pos?.col };
  });
  const value = syntaxIssues.length ? undefined : doc.toJS({ maxAliasCount: 100 });
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
