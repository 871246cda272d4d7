// bench/declarations.ts: the regular-expression stand-in for Go to Definition that bench/definitions-context.ts
// uses. It must find the declarations of each language and not take statements (return f(x), calls) for them.
import { strict as assert } from 'node:assert';
import { declarations } from '../../bench/declarations';

const names = (text: string, lang: string) => declarations(text, lang).map((d) => `${d.name}@${d.line}`);

describe('bench declarations (definition stand-in)', () => {
  it('python: def, class, module-level assignments; not comparisons or calls', () => {
    const py = 'import os\nMAX_SIZE = 10\nclass Reader:\n    def read(self, n):\n        return helper(n)\nasync def main():\n    if x == 1:\n        pass\n';
    assert.deepEqual(names(py, 'python'), ['MAX_SIZE@1', 'Reader@2', 'read@3', 'main@5']);
  });
  it('typescript/javascript: functions, classes, types, variables and method heads; not calls or keywords', () => {
    const ts = 'export function parse(s: string): number {\n  return toInt(s);\n}\nexport interface Options { x: number }\nconst limit = 3;\nclass Box {\n  constructor(private v: number) {}\n  get(): number {\n    if (this.v) {\n      log(this.v);\n    }\n  }\n}\ntype Id = string;\n';
    assert.deepEqual(names(ts, 'typescript'), ['parse@0', 'Options@3', 'limit@4', 'Box@5', 'constructor@6', 'get@7', 'Id@13']);
    assert.deepEqual(names('var a = 1;\nfunction b() {}\n', 'javascript'), ['a@0', 'b@1']);
  });
  it('java: types, methods and fields; not return statements or calls', () => {
    const java = 'public final class Cache<K, V> {\n    private final Map<K, V> entries = new HashMap<>();\n    public V get(K key) {\n        return entries.get(key);\n    }\n    static int size() { throw new Error(); }\n}\n';
    assert.deepEqual(names(java, 'java'), ['Cache@0', 'entries@1', 'get@2', 'size@5']);
  });
  it('c/c++: #define, struct, typedef, using, function heads (qualified too); not calls', () => {
    const c = '#define BUF_LEN 64\nstruct node {\n  int v;\n};\ntypedef unsigned long size_type;\nusing Map = std::map<int, int>;\nstatic int count_nodes(struct node *n)\n{\n  return count_nodes(n);\n}\nvoid Graph::add_edge(int a, int b) {\n  add(a, b);\n}\n';
    assert.deepEqual(names(c, 'c'), ['BUF_LEN@0', 'node@1', 'size_type@4', 'Map@5', 'count_nodes@6', 'add_edge@10']);
  });
  it('unknown languages and minified lines give nothing', () => {
    assert.deepEqual(declarations('fn main() {}', 'rust'), []);
    assert.deepEqual(declarations(`function x() {}${' '.repeat(500)}`, 'javascript'), []);
  });
});
