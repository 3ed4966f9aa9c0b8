"""Pictures: detections over images (more plots join as the tools need them)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

__all__ = ['draw_detections']


def draw_detections(image: np.ndarray, boxes: np.ndarray, scores: np.ndarray, ids: np.ndarray,
                    classes: Sequence[str], thresh: float = 0.5, ax=None,
                    title: Optional[str] = None):
    """Draw boxes with class names and scores over an HWC uint8 RGB image (matplotlib).

    Parameters
    ----------
    image : ndarray (H, W, 3)
    boxes : ndarray (K, 4)
        Corners in the image's pixels.
    scores, ids : ndarray (K,) or (K, 1)
        Invalid rows have id -1 and are skipped, as are scores below ``thresh``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6 * image.shape[0] / image.shape[1]))
    ax.imshow(image)
    ax.axis('off')
    cmap = plt.get_cmap('tab10')
    for box, score, cls in zip(boxes, np.ravel(scores), np.ravel(ids)):
        if cls < 0 or score < thresh:
            continue
        color = cmap(int(cls) % 10)
        x1, y1, x2, y2 = box
        ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                                   linewidth=2))
        name = classes[int(cls)] if int(cls) < len(classes) else str(int(cls))
        ax.text(x1, y1 - 2, '%s %.2f' % (name, score), color='white', fontsize=8,
                bbox=dict(facecolor=color, alpha=0.8, pad=1, edgecolor='none'))
    if title:
        ax.set_title(title)
    return ax


def plot_training_curves(history, path: str) -> str:
    """Loss and validation mAP per epoch, saved as a PNG at ``path``."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    epochs = [row['epoch'] for row in history]
    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss.plot(epochs, [r['cls_loss'] for r in history], label='class loss')
    ax_loss.plot(epochs, [r['box_loss'] for r in history], label='box loss')
    ax_loss.set_xlabel('epoch')
    ax_loss.legend()
    scored = [(r['epoch'], r['map']) for r in history if r.get('map') is not None]
    if scored:
        ax_map.plot(*zip(*scored), marker='o')
    ax_map.set_xlabel('epoch')
    ax_map.set_ylabel('validation mAP')
    ax_map.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_pr_curves(detections, classes, path: str) -> str:
    """Precision-recall curve of every class (VOC matching at IoU 0.5), saved as a PNG."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt

    from .evaluation import precision_recall
    recall, precision = precision_recall(detections, len(classes))
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, rec, prec in zip(classes, recall, precision):
        if rec is not None and len(rec):
            ax.plot(rec, prec, label=name)
    ax.set_xlabel('recall')
    ax.set_ylabel('precision')
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc='lower left')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_anchors(net, layer: int, locations=None, size=None, image=None, ax=None):
    """Draw the anchors of head ``layer`` at feature-map cells ``locations`` [(row, col)].

    Parameters
    ----------
    net : ssd_zoo.SSD
    layer : int
        Head index (0 = the finest map).
    locations : sequence of (int, int), optional
        Cells whose anchors are drawn; default the centre cell.
    size : (height, width), optional
        Input size; default the base size (or the image's).
    image : ndarray (H, W, 3), optional
        Background picture.
    """
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt

    from .model.anchors import anchors_per_head
    height, width = size or ((image.shape[0], image.shape[1]) if image is not None
                             else (net.base_size, net.base_size))
    heads = anchors_per_head(net, height, width)
    anchors, (rows, cols), per_cell = heads[layer]
    locations = locations if locations is not None else [(rows // 2, cols // 2)]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6 * height / width))
    if image is not None:
        ax.imshow(image)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_aspect('equal')
    cmap = plt.get_cmap('tab10')
    for row, col in locations:
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError('cell (%d, %d) is outside head %d\'s %dx%d map'
                             % (row, col, layer, rows, cols))
        start = (row * cols + col) * per_cell
        for k, box in enumerate(anchors[start:start + per_cell]):
            x1, y1, x2, y2 = box * [width, height, width, height]
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                       edgecolor=cmap(k % 10), linewidth=1.5))
    ax.set_title('head %d: %dx%d cells, %d anchors per cell' % (layer, rows, cols, per_cell))
    return ax


def plot_box_statistics(stats, path: str) -> str:
    """Histograms of the box sides (at the network input) and aspect ratios, saved as a PNG."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    fig, (ax_side, ax_aspect) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_side.hist(stats['side'], bins=40)
    ax_side.set_xlabel('box side at the network input (sqrt of the area, px)')
    ax_aspect.hist(np.log2(np.clip(stats['aspect'], 1e-3, None)), bins=40)
    ax_aspect.set_xlabel('log2 aspect ratio (width / height)')
    for ax in (ax_side, ax_aspect):
        ax.set_ylabel('boxes')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
