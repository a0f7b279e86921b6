import sharp from "sharp";

/**
 * Test images made by the tests themselves: black text in DejaVu Sans (Debian's fonts-dejavu-core, which .ci/run
 * installs) on white, one line per entry, rendered by sharp from SVG. The OCR tests assert these exact words.
 */
export const TEST_FONT = "DejaVu Sans";

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function textImage(lines: string[], opts: { width?: number; fontSize?: number; format?: "png" | "jpeg" } = {}): Promise<Buffer> {
  const fontSize = opts.fontSize ?? 40;
  const lineHeight = Math.round(fontSize * 1.75);
  const width = opts.width ?? 800;
  const height = lineHeight * (lines.length + 1);
  const text = lines.map((l, i) => `<text x="${fontSize}" y="${lineHeight * (i + 1)}" font-family="${TEST_FONT}" font-size="${fontSize}" fill="black">${escapeXml(l)}</text>`).join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>${text}</svg>`;
  const image = sharp(Buffer.from(svg));
  return opts.format === "jpeg" ? image.jpeg({ quality: 92 }).toBuffer() : image.png().toBuffer();
}

/** A photo-like image (a colour gradient) of the given size, for thumbnails. */
export async function gradientImage(width: number, height: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs><linearGradient id="g"><stop offset="0" stop-color="#08c"/><stop offset="1" stop-color="#f80"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg().toBuffer();
}
