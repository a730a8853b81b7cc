/**
 * JSON.parse with a usable error: line, column and what was expected, whatever Node's V8
 * version puts in its own message (Node 20 gives only "position N", and nothing at all for
 * some errors). When JSON.parse refuses the text, a small scanner walks the JSON grammar to
 * find the first offending character.
 */

export type JsonParseResult =
  { ok: true; value: unknown } | { ok: false; message: string; line: number; column: number };

export function parseJsonText(text: string): JsonParseResult {
  // Some editors start UTF-8 files with a byte-order mark; JSON.parse does not accept it.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (error) {
    const found = findSyntaxError(body);
    const { line, column } = lineAndColumn(body, found?.offset ?? body.length);
    const message = found?.message ?? (error instanceof Error ? error.message : String(error));
    return { ok: false, message, line, column };
  }
}

/** 1-based line and column (in characters) of an offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let index = 0; index < offset && index < text.length; index += 1) {
    if (text[index] === '\n') {
      line += 1;
      lineStart = index + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

interface SyntaxProblem {
  offset: number;
  message: string;
}

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const maxDepth = 512;
/** Sticky: matches only at lastIndex, without copying the rest of the text. */
const jsonNumber = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The first syntax error in `text`, or undefined if the scanner finds none. */
function findSyntaxError(text: string): SyntaxProblem | undefined {
  const scanner = new Scanner(text);
  try {
    scanner.document();
    return undefined;
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { offset: error.offset, message: error.message };
    throw error;
  }
}

class Scanner {
  #at = 0;

  constructor(readonly text: string) {}

  document(): void {
    this.#whitespace();
    if (this.#at >= this.text.length) this.#fail('the file is empty; expected a JSON value');
    this.#value(0);
    this.#whitespace();
    if (this.#at < this.text.length) this.#fail(`unexpected ${this.#shown()} after the end`);
  }

  #fail(message: string, offset = this.#at): never {
    throw new JsonSyntaxError(offset, message);
  }

  #shown(): string {
    if (this.#at >= this.text.length) return 'end of file';
    const char = this.text[this.#at] ?? '';
    return char === '\n' ? 'line break' : `"${char}"`;
  }

  #whitespace(): void {
    while (this.#at < this.text.length && ' \t\n\r'.includes(this.text[this.#at] ?? '')) {
      this.#at += 1;
    }
  }

  #value(depth: number): void {
    if (depth > maxDepth) this.#fail(`nested more than ${maxDepth} levels deep`);
    const char = this.text[this.#at];
    if (char === '{') return this.#object(depth);
    if (char === '[') return this.#array(depth);
    if (char === '"') return this.#string();
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return this.#number();
    for (const literal of ['true', 'false', 'null']) {
      if (this.text.startsWith(literal, this.#at)) {
        this.#at += literal.length;
        return;
      }
    }
    if (char === "'") this.#fail('text must be in double quotes');
    this.#fail(`expected a value, found ${this.#shown()}`);
  }

  #object(depth: number): void {
    this.#at += 1;
    this.#whitespace();
    if (this.text[this.#at] === '}') {
      this.#at += 1;
      return;
    }
    for (;;) {
      this.#whitespace();
      if (this.text[this.#at] === '}') this.#fail('trailing comma before "}"');
      if (this.text[this.#at] !== '"') {
        this.#fail(`expected a field name in double quotes, found ${this.#shown()}`);
      }
      this.#string();
      this.#whitespace();
      if (this.text[this.#at] !== ':') {
        this.#fail(`expected ":" after the field name, found ${this.#shown()}`);
      }
      this.#at += 1;
      this.#whitespace();
      this.#value(depth + 1);
      if (this.#closedAfterElement('}')) return;
    }
  }

  #array(depth: number): void {
    this.#at += 1;
    this.#whitespace();
    if (this.text[this.#at] === ']') {
      this.#at += 1;
      return;
    }
    for (;;) {
      this.#whitespace();
      if (this.text[this.#at] === ']') this.#fail('trailing comma before "]"');
      this.#value(depth + 1);
      if (this.#closedAfterElement(']')) return;
    }
  }

  /** After an element: consumes "," (false: another follows) or `close` (true: done). */
  #closedAfterElement(close: '}' | ']'): boolean {
    this.#whitespace();
    const next = this.text[this.#at];
    if (next !== ',' && next !== close) {
      this.#fail(`expected "," or "${close}", found ${this.#shown()}`);
    }
    this.#at += 1;
    return next === close;
  }

  #string(): void {
    const start = this.#at;
    this.#at += 1;
    for (;;) {
      if (this.#at >= this.text.length) this.#fail('text in quotes is never closed', start);
      const char = this.text[this.#at] ?? '';
      if (char === '"') {
        this.#at += 1;
        return;
      }
      if (char < ' ') this.#fail('a control character (such as a line break) inside quotes');
      if (char === '\\') {
        const escape = this.text[this.#at + 1] ?? '';
        if ('"\\/bfnrt'.includes(escape) && escape !== '') {
          this.#at += 2;
          continue;
        }
        if (
          escape === 'u' &&
          /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.#at + 2, this.#at + 6))
        ) {
          this.#at += 6;
          continue;
        }
        this.#fail('an invalid escape sequence');
      }
      this.#at += 1;
    }
  }

  #number(): void {
    jsonNumber.lastIndex = this.#at;
    const match = jsonNumber.exec(this.text);
    if (!match) this.#fail('a malformed number');
    this.#at += match[0].length;
  }
}
