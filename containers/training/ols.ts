/**
 * Ordinary least squares, y = b0 + b1·x1 + … + bk·xk, by the normal equations on centred columns, solved with
 * Gaussian elimination and partial pivoting. Small data (tens of rows, a few features): exact enough and clear.
 */
export interface OlsFit {
  intercept: number;
  coefficients: number[];
  r2: number;
  rmse: number;
  n: number;
  fitted: number[];
}

export function ols(x: number[][], y: number[]): OlsFit {
  const n = y.length;
  const k = x[0]?.length ?? 0;
  if (n === 0 || x.length !== n) throw new Error(`ols: ${x.length} rows of features for ${n} targets`);
  if (x.some((row) => row.length !== k)) throw new Error("ols: every row needs the same number of features");
  if (n <= k) throw new Error(`ols: ${n} observations cannot fit ${k} features and an intercept`);
  if ([...y, ...x.flat()].some((v) => !Number.isFinite(v))) throw new Error("ols: every value must be a finite number");

  const mean = (col: number[]) => col.reduce((a, b) => a + b, 0) / col.length;
  const xMeans = Array.from({ length: k }, (_, j) => mean(x.map((r) => r[j])));
  const yMean = mean(y);
  const xc = x.map((r) => r.map((v, j) => v - xMeans[j]));
  const yc = y.map((v) => v - yMean);

  // (XᵀX) b = Xᵀy on centred data; the intercept follows from the means.
  const a = Array.from({ length: k }, (_, i) => [
    ...Array.from({ length: k }, (_, j) => xc.reduce((s, r) => s + r[i] * r[j], 0)),
    xc.reduce((s, r, t) => s + r[i] * yc[t], 0),
  ]);
  const b = solve(a);
  const intercept = yMean - b.reduce((s, bj, j) => s + bj * xMeans[j], 0);
  const fitted = x.map((r) => intercept + r.reduce((s, v, j) => s + v * b[j], 0));
  const ssRes = y.reduce((s, v, t) => s + (v - fitted[t]) ** 2, 0);
  const ssTot = yc.reduce((s, v) => s + v * v, 0);
  return { intercept, coefficients: b, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot, rmse: Math.sqrt(ssRes / n), n, fitted };
}

/** Solves the augmented system [A | b] in place. */
function solve(m: number[][]): number[] {
  const k = m.length;
  const scale = Math.max(1e-300, ...m.flatMap((r) => r.slice(0, k).map(Math.abs)));
  for (let c = 0; c < k; c++) {
    let pivot = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) pivot = r;
    if (Math.abs(m[pivot][c]) < 1e-12 * scale) throw new Error("ols: the features are collinear (or one is constant): no unique fit");
    [m[c], m[pivot]] = [m[pivot], m[c]];
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let j = c; j <= k; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row, i) => row[k] / row[i]);
}
