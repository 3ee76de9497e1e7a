// What a keypoints or segmentation model answered, shown on the web page (app.js): the points
// listed, and drawn (COCO's skeleton when the names are COCO's) or the mask tinted with its box, on
// the upload as stored. `el` is the page's element maker; server strings go in as textContent.
import { $ } from '/web/experiments-dom.js';

// COCO's person skeleton by point name (drawn when a model's points are COCO's); faces get points only.
const COCO_SKELETON = [
  ['left_ankle', 'left_knee'],
  ['left_knee', 'left_hip'],
  ['right_ankle', 'right_knee'],
  ['right_knee', 'right_hip'],
  ['left_hip', 'right_hip'],
  ['left_shoulder', 'left_hip'],
  ['right_shoulder', 'right_hip'],
  ['left_shoulder', 'right_shoulder'],
  ['left_shoulder', 'left_elbow'],
  ['right_shoulder', 'right_elbow'],
  ['left_elbow', 'left_wrist'],
  ['right_elbow', 'right_wrist'],
  ['left_eye', 'right_eye'],
  ['nose', 'left_eye'],
  ['nose', 'right_eye'],
  ['left_eye', 'left_ear'],
  ['right_eye', 'right_ear'],
  ['left_ear', 'left_shoulder'],
  ['right_ear', 'right_shoulder'],
];

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the image cannot be drawn'));
    img.src = src;
  });
}

/**
 * The upload as stored (no EXIF turn: answers are in stored pixels) with the model's points and
 * skeleton, or its mask tinted, on a canvas in place of the preview. data-* attributes say what was
 * drawn (the browser test reads them).
 */
export async function drawOverlay(file, body, el) {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'none' });
  const canvas = el('canvas', { id: 'overlay', class: 'overlay' });
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const g = canvas.getContext('2d');
  g.drawImage(bitmap, 0, 0);
  const unit = Math.max(1.5, Math.max(bitmap.width, bitmap.height) / 120);
  if (body.keypoints) {
    const at = new Map(body.keypoints.map((p) => [p.name, p]));
    g.strokeStyle = 'rgba(56, 189, 248, 0.9)';
    g.lineWidth = unit;
    let bones = 0;
    for (const [a, b] of COCO_SKELETON) {
      const p = at.get(a);
      const q = at.get(b);
      if (!p || !q || p.score < 0.2 || q.score < 0.2) continue;
      g.beginPath();
      g.moveTo(p.x + 0.5, p.y + 0.5);
      g.lineTo(q.x + 0.5, q.y + 0.5);
      g.stroke();
      bones++;
    }
    for (const p of body.keypoints) {
      g.fillStyle = p.score >= 0.5 ? 'rgba(250, 204, 21, 0.95)' : 'rgba(248, 113, 113, 0.85)';
      g.beginPath();
      g.arc(p.x + 0.5, p.y + 0.5, unit * 1.4, 0, 2 * Math.PI);
      g.fill();
    }
    canvas.dataset.points = String(body.keypoints.length);
    canvas.dataset.bones = String(bones);
  }
  if (body.mask) {
    const mask = await loadImage(`data:image/png;base64,${body.mask.png_base64}`);
    const off = document.createElement('canvas');
    off.width = mask.width;
    off.height = mask.height;
    const m = off.getContext('2d');
    m.drawImage(mask, 0, 0);
    const px = m.getImageData(0, 0, mask.width, mask.height);
    for (let i = 0; i < px.data.length; i += 4) {
      const on = px.data[i] > 0;
      px.data[i] = 236;
      px.data[i + 1] = 72;
      px.data[i + 2] = 153;
      px.data[i + 3] = on ? 110 : 0;
    }
    m.putImageData(px, 0, 0);
    g.drawImage(off, 0, 0, bitmap.width, bitmap.height);
    if (body.mask.bbox) {
      const b = body.mask.bbox;
      g.strokeStyle = 'rgba(236, 72, 153, 0.95)';
      g.lineWidth = unit;
      g.strokeRect(b.x, b.y, b.width, b.height);
    }
    canvas.dataset.area = String(body.mask.area);
  }
  const old = $('overlay');
  if (old) old.remove();
  $('preview').hidden = true;
  $('drop').append(canvas);
}

export function showTaskResult(body, el) {
  const box = $('result');
  const meta = `${body.model_version} · ${body.latency_ms.toFixed(1)} ms · batch of ${body.batch_size}`;
  const head =
    body.task === 'keypoints'
      ? `${body.keypoints.length} points`
      : `mask: ${body.mask.area} px${body.mask.bbox ? `, box ${body.mask.bbox.width}×${body.mask.bbox.height}` : ''}`;
  box.replaceChildren(
    el('div', { class: 'head' }, [
      el('span', { class: 'top', id: 'top-label', text: head }),
      el('span', { class: 'meta', text: meta }),
    ]),
  );
  if (body.keypoints) {
    const rows = body.keypoints.map((p) =>
      el('tr', {}, [
        el('td', { text: p.name }),
        el('td', { text: `${p.x.toFixed(1)}, ${p.y.toFixed(1)}` }),
        el('td', { text: p.score.toFixed(2) }),
      ]),
    );
    box.append(el('table', { class: 'points', id: 'points' }, [el('tbody', {}, rows)]));
  }
}
