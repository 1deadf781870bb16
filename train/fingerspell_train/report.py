"""Per-class precision/recall/F1, confusion matrices and training curves, as files in a run folder."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.schema import CLASSES


def classification_report(y_true: np.ndarray, y_pred: np.ndarray,
                          groups: list[str] | None = None) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, the confusion matrix and top confusions.

    Only classes present in y_true or y_pred get a row; macro averages run over classes present in
    y_true. `groups` (e.g. the person or source of each image) adds an accuracy per group.
    """
    y_true = np.asarray(y_true, int)
    y_pred = np.asarray(y_pred, int)
    n = len(CLASSES)
    cm = np.zeros((n, n), int)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class: dict[str, dict[str, float]] = {}
    for i, name in enumerate(CLASSES):
        support = int(cm[i].sum())
        predicted = int(cm[:, i].sum())
        if not support and not predicted:
            continue
        tp = int(cm[i, i])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    present = [c for c, r in per_class.items() if r["support"]]
    confusions = Counter({(CLASSES[t], CLASSES[p]): int(cm[t, p])
                          for t in range(n) for p in range(n) if t != p and cm[t, p]})
    report: dict[str, Any] = {
        "n": len(y_true),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(np.mean([per_class[c]["f1"] for c in present])) if present else 0.0,
        "per_class": per_class,
        "top_confusions": [f"{t}->{p}: {k}" for (t, p), k in confusions.most_common(10)],
        "confusion_matrix": cm.tolist(),
    }
    if groups is not None:
        by: dict[str, list[bool]] = {}
        for g, t, p in zip(groups, y_true, y_pred, strict=True):
            by.setdefault(g, []).append(bool(t == p))
        report["per_group"] = {g: {"accuracy": float(np.mean(v)), "n": len(v)}
                               for g, v in sorted(by.items())}
    return report


def format_report(report: dict[str, Any], title: str) -> str:
    lines = [f"{title}: accuracy {report['accuracy']:.4f} on {report['n']} images, "
             f"macro F1 {report['macro_f1']:.4f}", "",
             f"{'class':>8} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for name, r in report["per_class"].items():
        lines.append(f"{name:>8} {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:7.3f} "
                     f"{r['support']:8d}")
    if report.get("per_group"):
        lines += ["", "per group:"]
        lines += [f"  {g}: {v['accuracy']:.4f} ({v['n']})" for g, v in report["per_group"].items()]
    if report["top_confusions"]:
        lines += ["", "most confused (true->predicted): " + ", ".join(report["top_confusions"])]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: Path, stem: str, title: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (out_dir / f"{stem}.txt").write_text(format_report(report, title))
    plot_confusion(np.asarray(report["confusion_matrix"]), out_dir / f"{stem}_confusion.png", title)


def plot_confusion(cm: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keep = [i for i in range(len(CLASSES)) if cm[i].sum() or cm[:, i].sum()]
    sub = cm[np.ix_(keep, keep)].astype(float)
    rows = sub.sum(axis=1, keepdims=True)
    norm = np.divide(sub, rows, out=np.zeros_like(sub), where=rows > 0)
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    labels = [CLASSES[i] for i in keep]
    ax.set_xticks(range(len(keep)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(keep)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_history(history: dict[str, list[float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for key, ax in (("loss", a1), ("accuracy", a2)):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=prefix + key)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
