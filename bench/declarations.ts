// Where a name is declared, found by per-language regular expressions (ctags-like): the stand-in for the
// language server's Go to Definition in bench/definitions-context.ts, where no language server runs. It knows
// declarations by their shape only (no scopes, no imports, no types): `def f`/`class C` and module-level
// assignments in Python; function/class/interface/type/enum/const/let/var and method heads in TS/JS; types,
// method heads and fields in Java; #define, struct/union/enum/class/namespace, typedef/using and function
// heads in C/C++. A language server resolves `obj.m` to the right `m`; this finds the first `m` it knows of.

export interface Declaration { name: string; line: number }

const ID = '[A-Za-z_$][\\w$]*';
/** Words that start a statement, not a declaration (a method-head pattern would otherwise take `return f(`). */
const STATEMENT = new Set(['return', 'new', 'throw', 'else', 'case', 'if', 'while', 'for', 'switch', 'do', 'goto', 'delete', 'await', 'yield', 'sizeof', 'typeof', 'catch', 'assert']);

const PATTERNS: Record<string, RegExp[]> = {
  python: [new RegExp(`^\\s*(?:async\\s+)?(?:def|class)\\s+(${ID})`), new RegExp(`^(${ID})\\s*(?::[^=]*)?=(?!=)`)],
  typescript: [
    new RegExp(`\\b(?:function\\*?|class|interface|type|enum|namespace)\\s+(${ID})`),
    new RegExp(`\\b(?:const|let|var)\\s+(${ID})\\s*[:=]`),
    new RegExp(`^\\s+(?:(?:public|private|protected|static|readonly|async|abstract|override|get|set|declare)\\s+)*(${ID})\\s*(?:<[^>]*>)?\\((?:[^)]*\\)\\s*[:{]|[^)]*$)`),
  ],
  java: [
    new RegExp(`\\b(?:class|interface|enum|record|@interface)\\s+(${ID})`),
    new RegExp(`^\\s*(?:(?:public|private|protected|static|final|abstract|synchronized|native|default|transient|volatile|strictfp)\\s+)*(?:<[^>]+>\\s+)?(${ID})[\\w$.<>\\[\\],?\\s]*?\\s+(${ID})\\s*(?:\\(|=|;)`),
  ],
  c: [
    new RegExp(`^\\s*#\\s*define\\s+(${ID})`),
    new RegExp(`\\b(?:struct|union|enum|class|namespace)\\s+(${ID})\\s*(?:[{:]|$)`),
    new RegExp(`\\btypedef\\b.*?\\b(${ID})\\s*(?:\\[[^\\]]*\\])?\\s*;`),
    new RegExp(`^\\s*using\\s+(${ID})\\s*=`),
    new RegExp(`^\\s*(?:(?:static|inline|extern|virtual|explicit|constexpr|const|unsigned|signed)\\s+)*(${ID})[\\w\\s*&:<>,]*?[\\s*&]((?:${ID}::)*~?${ID})\\s*\\([^;]*$`),
  ],
};
PATTERNS.javascript = PATTERNS.typescript;
PATTERNS.cpp = PATTERNS.c;

/** The declarations in `text` of a language (python, typescript, javascript, java, c, cpp), in line order. */
export function declarations(text: string, lang: string): Declaration[] {
  const patterns = PATTERNS[lang];
  if (!patterns) return [];
  const out: Declaration[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > 400) continue;  // minified or generated: no declarations worth a chunk
    for (const re of patterns) {
      const m = re.exec(line);
      if (!m) continue;
      // Patterns with two groups (a type, then the name): the first must not be a statement word.
      if (m.length > 2 && m[2] !== undefined) {
        if (STATEMENT.has(m[1])) continue;
        out.push({ name: m[2].split('::').pop()!.replace(/^~/, ''), line: i });
      } else {
        if (STATEMENT.has(m[1])) continue;
        out.push({ name: m[1], line: i });
      }
      break;
    }
  }
  return out;
}
