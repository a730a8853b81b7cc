import { Fragment } from 'react';

/**
 * Renders a sentence in which `backticked` parts are commands or paths, e.g. the fix
 * "run `sudo usermod -aG kvm $USER`". Messages from the services use the same convention,
 * so commands are shown as code wherever they come from; everything stays plain text.
 */
export function InlineCode({ text }: { text: string }) {
  const parts = text.split('`');
  // An unmatched backtick is shown as written rather than swallowing the rest.
  if (parts.length % 2 === 0) return <>{text}</>;
  return (
    <>
      {parts.map((part, i) =>
        i % 2 === 1 ? <code key={i}>{part}</code> : <Fragment key={i}>{part}</Fragment>,
      )}
    </>
  );
}
