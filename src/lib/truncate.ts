// Shortening text for messages that are stored or sent on. String#slice counts UTF-16 code
// units, so it can cut a character outside the Basic Multilingual Plane (an emoji, U+10000)
// in half and leave a lone surrogate, which Postgres refuses in text and jsonb: one such
// message made a whole delivery fail with a 500.

/** `text` cut to at most `max` UTF-16 code units, never inside a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? max - 1 : max;
  return text.slice(0, end);
}
