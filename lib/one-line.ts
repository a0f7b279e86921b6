/** Text on one line (runs of whitespace become one space), at most `max` characters (an ellipsis marks a cut). */
export function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
