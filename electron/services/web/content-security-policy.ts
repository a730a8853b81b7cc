/**
 * The Content-Security-Policy and companion headers sent with every renderer file, by both
 * Electron's app:// handler and `nestbox serve`. The renderer has no inline script or style,
 * so the policy allows only the app's own origin; `connect-src 'self'` also covers same-origin
 * WebSockets in current Chromium.
 */
export const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

export const securityHeaders: Readonly<Record<string, string>> = {
  'Content-Security-Policy': contentSecurityPolicy,
  // Never guess a script type from content.
  'X-Content-Type-Options': 'nosniff',
  // `nestbox serve` pages are first opened with ?token=…; never leak that URL to anyone.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
