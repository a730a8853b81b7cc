/**
 * xterm.js (6.0) styles its DOM renderer and scrollbar with <style> elements whose text it
 * writes at run time. The page's CSP (`style-src 'self'`, no 'unsafe-inline') refuses those —
 * even an empty one — and logs a violation each time, leaving the terminal unstyled. Rather
 * than weaken the CSP, xterm is handed stand-ins: elements that are not <style> elements, whose
 * `textContent` goes into a constructed stylesheet adopted by the document. The CSP does not
 * govern the CSSOM, so the rules apply and nothing is refused.
 *
 * xterm creates these elements through two documents: the `documentOverride` option (the DOM
 * renderer's theme and cell-size rules, created at any time) and the global document (the
 * viewport's scrollbar rules, created while `open()` runs). The first gets a Proxy whose
 * createElement makes stand-ins; the second is redirected only for the duration of `open()`.
 */

/** The stylesheets one terminal added to its document; dispose() removes them all. */
export class AdoptedStyleSheets {
  readonly #document: Document;
  readonly #sheets = new Set<CSSStyleSheet>();

  constructor(document: Document) {
    this.#document = document;
  }

  /** An element to use where a <style> element was asked for. */
  standIn(): HTMLElement {
    const document = this.#document;
    const sheet = new CSSStyleSheet();
    // A <template> is never rendered and never applies styles of its own.
    const element = document.createElement('template');
    let text = '';
    Object.defineProperty(element, 'textContent', {
      configurable: true,
      get: () => text,
      set: (value: unknown) => {
        text = value === null || value === undefined ? '' : String(value);
        sheet.replaceSync(text);
        this.#adopt(sheet);
      },
    });
    const remove = element.remove.bind(element);
    element.remove = () => {
      this.#drop(sheet);
      remove();
    };
    return element;
  }

  #adopt(sheet: CSSStyleSheet): void {
    if (this.#sheets.has(sheet)) return;
    this.#sheets.add(sheet);
    this.#document.adoptedStyleSheets = [...this.#document.adoptedStyleSheets, sheet];
  }

  #drop(sheet: CSSStyleSheet): void {
    if (!this.#sheets.delete(sheet)) return;
    this.#document.adoptedStyleSheets = this.#document.adoptedStyleSheets.filter(
      (adopted) => adopted !== sheet,
    );
  }

  dispose(): void {
    const mine = this.#sheets;
    this.#document.adoptedStyleSheets = this.#document.adoptedStyleSheets.filter(
      (adopted) => !mine.has(adopted),
    );
    mine.clear();
  }
}

function isStyleTag(tagName: unknown): boolean {
  return typeof tagName === 'string' && tagName.toLowerCase() === 'style';
}

/** The document, except that createElement('style') makes a stand-in (for `documentOverride`). */
export function styleRedirectingDocument(document: Document, sheets: AdoptedStyleSheets): Document {
  const createElement = (tagName: string, options?: ElementCreationOptions) =>
    isStyleTag(tagName) ? sheets.standIn() : document.createElement(tagName, options);
  return new Proxy(document, {
    get(target, property) {
      if (property === 'createElement') return createElement;
      const value: unknown = Reflect.get(target, property, target);
      // DOM methods must be called on the real document, not on the proxy.
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(target, property, value) {
      return Reflect.set(target, property, value, target);
    },
  });
}

/**
 * Runs `action` (synchronous: xterm's `open()`) with the document's createElement('style')
 * making stand-ins, and puts createElement back afterwards, whatever happens.
 */
export function withStyleElementsRedirected<T>(
  document: Document,
  sheets: AdoptedStyleSheets,
  action: () => T,
): T {
  const own = Object.getOwnPropertyDescriptor(document, 'createElement');
  const original = document.createElement;
  Object.defineProperty(document, 'createElement', {
    configurable: true,
    writable: true,
    value: function createElement(tagName: string, options?: ElementCreationOptions) {
      return isStyleTag(tagName) ? sheets.standIn() : original.call(document, tagName, options);
    },
  });
  try {
    return action();
  } finally {
    if (own) Object.defineProperty(document, 'createElement', own);
    else delete (document as { createElement?: unknown }).createElement;
  }
}
