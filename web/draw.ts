// Canvas drawing for generator outputs: a scatter for 2-D points, a grid for [C, H, W] images in [-1, 1].

export type Shape = number[];

/** How a sample of this shape is shown: points, images, or neither. */
export function viewOf(shape: Shape): 'points' | 'images' | 'none' {
  if (shape.length === 1 && shape[0] === 2) return 'points';
  if (shape.length === 3 && (shape[0] === 1 || shape[0] === 3)) return 'images';
  return 'none';
}

export interface ScatterOptions {
  /** Mode centres drawn as rings (the data set's mixture). */
  centers?: [number, number][];
  /** Points drawn on top in a second colour (the latent interpolation). */
  highlight?: Float32Array;
}

/** Draws the points; returns how many fall outside the view (the data set's extent plus a margin). */
export function scatter(canvas: HTMLCanvasElement, xy: Float32Array, o: ScatterOptions = {}): number {
  const ctx = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  // The view fits the data set when it is known (so a collapsed generator looks collapsed), else the points.
  let r = 0;
  for (const [cx, cy] of o.centers ?? []) r = Math.max(r, Math.abs(cx), Math.abs(cy));
  if (!r) for (let i = 0; i < xy.length; i++) if (Number.isFinite(xy[i])) r = Math.max(r, Math.abs(xy[i]));
  r = (r || 1) * 1.25;
  const px = (x: number) => ((x + r) / (2 * r)) * w;
  const py = (y: number) => h - ((y + r) / (2 * r)) * h;
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = '#d0d5db';
  ctx.beginPath();
  ctx.moveTo(px(0), 0);
  ctx.lineTo(px(0), h);
  ctx.moveTo(0, py(0));
  ctx.lineTo(w, py(0));
  ctx.stroke();
  ctx.strokeStyle = '#e3702d';
  for (const [cx, cy] of o.centers ?? []) {
    ctx.beginPath();
    ctx.arc(px(cx), py(cy), 6, 0, 2 * Math.PI);
    ctx.stroke();
  }
  const dots = (pts: Float32Array, color: string, size: number) => {
    ctx.fillStyle = color;
    for (let i = 0; i + 1 < pts.length; i += 2) ctx.fillRect(px(pts[i]) - size / 2, py(pts[i + 1]) - size / 2, size, size);
  };
  dots(xy, 'rgba(38, 94, 166, 0.35)', 2);
  if (o.highlight) dots(o.highlight, '#c2185b', 5);
  let out = 0;
  for (let i = 0; i + 1 < xy.length; i += 2) if (!(Math.abs(xy[i]) <= r && Math.abs(xy[i + 1]) <= r)) out++;
  return out;
}

/** Images [n, C, H, W] in [-1, 1] as a grid with `cols` columns, each image scaled up to fill its cell. */
export function imageGrid(canvas: HTMLCanvasElement, data: Float32Array, shape: Shape, n: number, cols: number, rowLabels: string[] = []): void {
  const [C, H, W] = shape;
  const rows = Math.ceil(n / cols);
  const img = new ImageData(cols * W, rows * H);
  const plane = H * W;
  for (let k = 0; k < n; k++) {
    const ox = (k % cols) * W;
    const oy = Math.floor(k / cols) * H;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const at = ((oy + y) * cols * W + ox + x) * 4;
        for (let c = 0; c < 3; c++) {
          const v = data[k * C * plane + (C === 1 ? 0 : c) * plane + y * W + x];
          img.data[at + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
        }
        img.data[at + 3] = 255;
      }
  }
  const tmp = document.createElement('canvas');
  tmp.width = img.width;
  tmp.height = img.height;
  tmp.getContext('2d')!.putImageData(img, 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // A class-conditional grid: each row's class name in a column at the left.
  ctx.font = '12px system-ui, sans-serif';
  const margin = rowLabels.length ? Math.ceil(Math.max(...rowLabels.map((l) => ctx.measureText(l).width))) + 8 : 0;
  const scale = Math.min((canvas.width - margin) / img.width, canvas.height / img.height);
  ctx.drawImage(tmp, margin, 0, img.width * scale, img.height * scale);
  ctx.fillStyle = '#222';
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  rowLabels.forEach((l, r) => ctx.fillText(l, margin - 6, (r + 0.5) * H * scale));
}
