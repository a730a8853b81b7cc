import { afterEach, describe, expect, it } from 'vitest';
import {
  AdoptedStyleSheets,
  styleRedirectingDocument,
  withStyleElementsRedirected,
} from './adopted-styles.ts';

// jsdom has no constructable stylesheets; these stand in for what the browser gives.
class FakeSheet {
  text = '';
  replaceSync(text: string) {
    this.text = text;
  }
}

describe('Style elements made CSP-safe', () => {
  const realSheet = globalThis.CSSStyleSheet;
  afterEach(() => {
    globalThis.CSSStyleSheet = realSheet;
    document.adoptedStyleSheets = [];
  });

  function sheets() {
    globalThis.CSSStyleSheet = FakeSheet as unknown as typeof CSSStyleSheet;
    document.adoptedStyleSheets = [];
    return new AdoptedStyleSheets(document);
  }
  const adopted = () => document.adoptedStyleSheets as unknown as FakeSheet[];

  it('puts the text of a requested <style> into an adopted sheet, never into a <style>', () => {
    const owned = sheets();
    const redirected = styleRedirectingDocument(document, owned);
    expect(redirected instanceof Document).toBe(true);
    const style = redirected.createElement('style');
    document.body.appendChild(style);
    style.textContent = '.xterm { color: red }';

    expect(document.querySelector('style')).toBeNull();
    expect(adopted().map((sheet) => sheet.text)).toEqual(['.xterm { color: red }']);
    style.textContent = '.xterm { color: blue }';
    expect(adopted().map((sheet) => sheet.text)).toEqual(['.xterm { color: blue }']);

    style.remove();
    expect(adopted()).toEqual([]);
    // Everything else is the real document's.
    expect(redirected.createElement('div')).toBeInstanceOf(HTMLDivElement);
    expect(redirected.body).toBe(document.body);
  });

  it('redirects the global document only while the action runs, and drops all on dispose', () => {
    const owned = sheets();
    withStyleElementsRedirected(document, owned, () => {
      document.createElement('style').textContent = 'a { }';
      expect(document.createElement('span')).toBeInstanceOf(HTMLSpanElement);
    });
    expect(document.createElement('style')).toBeInstanceOf(HTMLStyleElement);
    expect(Object.hasOwn(document, 'createElement')).toBe(false);
    expect(adopted()).toHaveLength(1);

    owned.dispose();
    expect(adopted()).toEqual([]);
  });
});
